/**
 * How deeply a JSON text nests arrays and objects, found by one pass over the characters (no recursion, no parse),
 * so a hostile body is measured before any recursive code (JSON.parse's consumers, merge, validation, structuredClone)
 * sees it. Brackets inside strings do not count. Stops counting once `limit` is passed.
 */
export function jsonNestingDepth(text: string, limit = Number.POSITIVE_INFINITY): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > limit) return deepest;
      }
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    }
  }
  return deepest;
}

/** The configuration nests about six levels (T3.routing.rules[i].modality[j]); 32 leaves room and bounds recursion. */
export const MAX_CONFIG_JSON_DEPTH = 32;
