/**
 * Parses the JSON dialect Orthanc accepts in its configuration files: `//` and `/* *\/` comments and trailing
 * commas. Comments and trailing commas are removed outside string literals, then the text goes to JSON.parse,
 * so every other syntax error is still reported (with the file name the caller gives).
 */
export function parseJsonWithComments(text: string, source: string): unknown {
  let out = '';
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i];
    if (c === '"') {
      const start = i;
      i++;
      while (i < n && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      i++;
      out += text.slice(start, i);
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < n && text[i] !== '\n') i++;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) throw new SyntaxError(`${source}: unterminated /* comment`);
      // Keep line breaks so JSON.parse positions still point at the right line.
      out += text.slice(i, end + 2).replace(/[^\n]/g, ' ');
      i = end + 2;
    } else if (c === ',') {
      let j = i + 1;
      while (j < n && /\s/.test(text[j])) j++;
      if (text[j] === '}' || text[j] === ']') {
        out += ' ';
      } else if (text[j] === '/') {
        // A comment between the comma and the closing bracket: decide after skipping it.
        const rest = stripLeadingComments(text.slice(j));
        out += rest.startsWith('}') || rest.startsWith(']') ? ' ' : ',';
      } else {
        out += ',';
      }
      i++;
    } else {
      out += c;
      i++;
    }
  }
  try {
    return JSON.parse(out);
  } catch (err) {
    throw new SyntaxError(`${source}${linePosition(out, (err as Error).message)}: ${(err as Error).message}`);
  }
}

/**
 * `:line:column` of the syntax error, or "". Comments were replaced by spaces or cut at the line end, so lines and
 * columns of the stripped text are those of the file.
 */
function linePosition(text: string, message: string): string {
  const match = /at position (\d+)/.exec(message);
  const position = match ? Number(match[1]) : errorOffset(text);
  if (position === null) return '';
  const before = text.slice(0, position);
  const line = before.split('\n').length;
  const column = before.length - before.lastIndexOf('\n');
  return `:${line}:${column}`;
}

/**
 * Where JSON.parse fails when its message names no position (Node 20 says only "Unexpected token"): the shortest
 * prefix that fails other than by ending early ends at the bad character. Every shorter prefix only ends early, so a
 * binary search finds it.
 */
function errorOffset(text: string): number | null {
  const failsBeforeEnd = (length: number): boolean => {
    try {
      JSON.parse(text.slice(0, length));
      return true;
    } catch (err) {
      const message = (err as Error).message;
      if (/Unexpected end of JSON input/.test(message)) return false;
      // "Expected … at position N" with N at the end of the prefix also means it ended early.
      const at = /at position (\d+)/.exec(message);
      return at === null || Number(at[1]) < length;
    }
  };
  if (!failsBeforeEnd(text.length)) return text.length;
  let low = 0;
  let high = text.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (failsBeforeEnd(mid)) high = mid;
    else low = mid + 1;
  }
  return low > 0 ? low - 1 : null;
}

function stripLeadingComments(text: string): string {
  let t = text;
  for (;;) {
    t = t.replace(/^\s+/, '');
    if (t.startsWith('//')) {
      const nl = t.indexOf('\n');
      t = nl < 0 ? '' : t.slice(nl + 1);
    } else if (t.startsWith('/*')) {
      const end = t.indexOf('*/');
      t = end < 0 ? '' : t.slice(end + 2);
    } else {
      return t;
    }
  }
}
