import { parseTree, printParseErrorCode, type Node, type ParseError } from 'jsonc-parser';

/**
 * Parses the JSON dialect Orthanc accepts in its configuration files: `//` and `/* *\/` comments and trailing
 * commas, through jsonc-parser. The first syntax error is thrown as a SyntaxError that starts with
 * `source:line:column: `, taken from the parser's offset.
 */
export function parseJsonWithComments(text: string, source: string): unknown {
  const errors: ParseError[] = [];
  const tree = parseTree(text, errors, { allowTrailingComma: true, disallowComments: false, allowEmptyContent: false });
  // The parser recovers and goes on; the first error is the one the administrator has to fix.
  const first = errors[0];
  if (first !== undefined) throw new SyntaxError(`${source}${linePosition(text, first.offset)}: ${describeError(text, first)}`);
  if (tree === undefined) throw new SyntaxError(`${source}:1:1: value expected`);
  return valueOf(tree);
}

/**
 * The value a node stands for, built as JSON.parse builds it: keys are defined as own properties, so a `__proto__`
 * key stays a key (jsonc-parser's own value builder assigns it, which would replace the object's prototype and hide
 * it from the validator's unknown-key check).
 */
function valueOf(node: Node): unknown {
  if (node.type === 'array') return (node.children ?? []).map(valueOf);
  if (node.type !== 'object') return node.value as unknown;
  const out: Record<string, unknown> = {};
  for (const property of node.children ?? []) {
    const [key, value] = property.children ?? [];
    // Without a syntax error every property has a string key and a value.
    if (key === undefined || value === undefined) continue;
    Object.defineProperty(out, String(key.value), { value: valueOf(value), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** `ValueExpected` → `value expected`, plus what stands at the offset (or that the file ends there). */
function describeError(text: string, error: ParseError): string {
  const what = printParseErrorCode(error.error).replace(/(?<=[a-z])(?=[A-Z])/g, ' ').toLowerCase();
  const found = text.slice(error.offset, error.offset + Math.max(1, Math.min(error.length, 20)));
  return found === '' ? `${what} at the end of the text` : `${what}, found ${JSON.stringify(found)}`;
}

/** `:line:column` (both from 1) of a character offset. */
function linePosition(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const column = before.length - before.lastIndexOf('\n');
  return `:${line}:${column}`;
}
