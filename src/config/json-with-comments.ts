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
    throw new SyntaxError(`${source}: ${(err as Error).message}`);
  }
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
