import { RE2JS } from 're2js';
import { CategorizedError } from '../../errors';

/**
 * The one definition of a routing pattern (`studyDescription`, `seriesDescription`): found anywhere in the text,
 * case-insensitive, and matched by RE2 (the re2js port), whose time is linear in the text. JavaScript's RegExp
 * backtracks: `^(a+)+$` against 31 × "a" and "!" held the event loop for 37 s, and every study passing the rule
 * table would pay it again. The configuration validator and the router both compile through here, so a pattern
 * that loads is one that routes.
 */
export interface RoutePattern {
  readonly source: string;
  /** True when the pattern occurs in `text` (like RegExp.prototype.test with the `i` flag). */
  test(text: string): boolean;
}

/** Why a pattern was refused: not a regular expression at all, or one RE2 cannot run in linear time. */
export type RoutePatternFault = 'invalid' | 'unsupported';

export class RoutePatternError extends CategorizedError {
  constructor(readonly fault: RoutePatternFault, message: string) {
    super('invalid-argument', message);
  }
}

/**
 * Compiled patterns by source. The validator compiles every pattern when a configuration is loaded or updated, and
 * routing then finds it here: a pattern is compiled once, not per study. Configurations hold a handful of patterns;
 * the bound only keeps a long run of configuration updates from growing the map.
 */
const compiled = new Map<string, RoutePattern>();
const MAX_COMPILED = 256;

function refusal(source: string, error: unknown): RoutePatternError {
  // RE2's own words name the construct ("invalid escape sequence: `\1`"); its fixed prefix says nothing here.
  const detail = (error instanceof Error ? error.message : String(error)).replace(/^error parsing regexp: /, '');
  let javascriptAccepts = true;
  try {
    new RegExp(source, 'i'); // compiling only: nothing is matched, so this cannot backtrack
  } catch {
    javascriptAccepts = false;
  }
  // A pattern JavaScript accepts and RE2 refuses uses what RE2 leaves out to stay linear-time.
  return javascriptAccepts
    ? new RoutePatternError('unsupported', 'is not supported (linear-time matching: no backreferences or lookaround, ' +
      `repetition counts up to 1000): ${detail}`)
    : new RoutePatternError('invalid', `is not a valid regular expression: ${detail}`);
}

/** The compiled pattern for `source`; throws RoutePatternError (invalid-argument) when RE2 cannot compile it. */
export function compileRoutePattern(source: string): RoutePattern {
  const known = compiled.get(source);
  if (known) return known;
  let re: RE2JS;
  try {
    re = RE2JS.compile(source, RE2JS.CASE_INSENSITIVE);
  } catch (error) {
    throw refusal(source, error);
  }
  const pattern: RoutePattern = { source, test: (text) => re.test(text) };
  if (compiled.size >= MAX_COMPILED) compiled.delete(compiled.keys().next().value as string);
  compiled.set(source, pattern);
  return pattern;
}
