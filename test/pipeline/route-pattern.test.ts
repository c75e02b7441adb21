/**
 * Rules cannot freeze the sidecar: routing patterns run on RE2 (linear time), are compiled once, and a pattern RE2
 * cannot run is a configuration error naming its key.
 */
import { ConfigError, ConfigErrorList, loadSidecarConfig } from '../../src/config';
import { compileRoutePattern, RoutePatternError } from '../../src/pipeline/routing/route-pattern';
import { chooseBundle, type RoutingAttributes } from '../../src/pipeline/routing/routing';

const attrs = (studyDescription: string): RoutingAttributes => ({
  modality: 'CR', sopClassUid: '1.2.840.10008.5.1.4.1.1.1', bodyPartExamined: 'CHEST', studyDescription,
  seriesDescription: '', callingAet: null,
});

/** Runs `fn` and returns its result with the milliseconds it took. */
function timed<T>(fn: () => T): { value: T; ms: number } {
  const started = performance.now();
  const value = fn();
  return { value, ms: performance.now() - started };
}

describe('the catastrophic-backtracking rule of the issue', () => {
  const table = { rules: [{ bundle: 'nested', studyDescription: '^(a+)+$' }], defaultBundle: 'fallback' };

  // JavaScript's RegExp took about 37 s on 31 × "a" + "!" and doubles with every further "a"; RE2 is linear. The
  // bound is generous (a shared, loaded machine) and still 30 times under the old time.
  test.each([
    ['31 × "a" + "!"', 'a'.repeat(31) + '!', 'fallback'],
    ['31 × "a"', 'a'.repeat(31), 'nested'],
    ['10 000 × "a" + "!"', 'a'.repeat(10_000) + '!', 'fallback'],
    ['10 000 × "a"', 'a'.repeat(10_000), 'nested'],
    ['10 000 × "A" (case-insensitive)', 'A'.repeat(10_000), 'nested'],
  ])('%s routes correctly and at once', (_name, description, bundle) => {
    const { value, ms } = timed(() => chooseBundle(table, attrs(description)));
    expect(value).toBe(bundle);
    expect(ms).toBeLessThan(1000);
  });

  test('the configuration that holds it loads, and routes the same', () => {
    const { config } = loadSidecarConfig({ overrides: { routing: { rules: [{ bundle: 'demo', studyDescription: '^(a+)+$' }], defaultBundle: null } } });
    const { value, ms } = timed(() => chooseBundle(config.routing, attrs('a'.repeat(31) + '!')));
    expect(value).toBeNull();
    expect(ms).toBeLessThan(1000);
    expect(chooseBundle(config.routing, attrs('aaa'))).toBe('demo');
  });
});

describe('patterns keep their meaning', () => {
  test('found anywhere in the text, case-insensitive, as with RegExp and the i flag', () => {
    const table = {
      rules: [
        { bundle: 'chest', studyDescription: 'thorax|chest' },
        { bundle: 'screen', studyDescription: '^screen' },
        { bundle: 'digits', studyDescription: '\\bphase \\d+\\b' },
      ],
      defaultBundle: null,
    };
    expect(chooseBundle(table, attrs('CT CHEST W/O'))).toBe('chest');
    expect(chooseBundle(table, attrs('Thorax pa'))).toBe('chest');
    expect(chooseBundle(table, attrs('SCREENING MAMMO'))).toBe('screen');
    expect(chooseBundle(table, attrs('mammo screening'))).toBeNull();
    expect(chooseBundle(table, attrs('Liver Phase 3'))).toBe('digits');
    expect(chooseBundle(table, attrs('Liver phased'))).toBeNull();
  });

  test('each pattern is compiled once', () => {
    expect(compileRoutePattern('^chest')).toBe(compileRoutePattern('^chest'));
  });
});

describe('a pattern RE2 cannot run is a configuration error naming the key', () => {
  function configError(rules: unknown[]): ConfigError {
    try {
      loadSidecarConfig({ overrides: { routing: { rules, defaultBundle: 'demo' } } });
    } catch (err) {
      if (err instanceof ConfigError) return err;
      throw err;
    }
    throw new Error('the configuration loaded');
  }

  test.each([
    ['a backreference', '(a)\\1'],
    ['a named backreference', '(?<x>a)\\k<x>'],
    ['a lookahead', 'chest(?= pa)'],
    ['a negative lookbehind', '(?<!no )chest'],
  ])('%s', (_name, pattern) => {
    const error = configError([{ bundle: 'demo', studyDescription: pattern }]);
    expect(error.key).toBe('T3.routing.rules[0].studyDescription');
    expect(error.category).toBe('invalid-argument');
    expect(error.message).toContain('not supported (linear-time matching: no backreferences or lookaround');
  });

  test('a pattern that is no regular expression at all says so', () => {
    const error = configError([{ bundle: 'demo', seriesDescription: '(' }]);
    expect(error.key).toBe('T3.routing.rules[0].seriesDescription');
    expect(error.message).toMatch(/is not a valid regular expression/);
  });

  test('every refused pattern is reported at once', () => {
    const error = configError([
      { bundle: 'demo', studyDescription: '(a)\\1', seriesDescription: 'x(?=y)' },
      { bundle: 'demo', studyDescription: 'fine' },
      { bundle: 'demo', seriesDescription: '[' },
    ]);
    expect(error).toBeInstanceOf(ConfigErrorList);
    expect((error as ConfigErrorList).errors.map((e) => e.key)).toEqual([
      'T3.routing.rules[0].studyDescription', 'T3.routing.rules[0].seriesDescription', 'T3.routing.rules[2].seriesDescription',
    ]);
  });

  test('the compiler itself throws a categorized error with its fault', () => {
    let caught: unknown;
    try {
      compileRoutePattern('(a)\\1');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(RoutePatternError);
    expect((caught as RoutePatternError).fault).toBe('unsupported');
    expect((caught as RoutePatternError).category).toBe('invalid-argument');
  });
});
