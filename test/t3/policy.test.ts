import { DEFAULT_T3_HYPERPARAMETERS, defaultPolicyConfig, parsePolicyName, POLICY_NAMES, T3InputError } from '../../src/t3';

describe('policies', () => {
  test('the seven policies of docs/T3.md §4', () => {
    expect([...POLICY_NAMES]).toEqual(['generalist', 'expert', 'wise', 'ensemble', 'dawin', 't3', 't3b', 't3b-grouped']);
    expect(Object.isFrozen(POLICY_NAMES)).toBe(true);
  });

  test('parsePolicyName accepts every name, ignoring case and surrounding spaces', () => {
    for (const n of POLICY_NAMES) expect(parsePolicyName(n)).toBe(n);
    expect(parsePolicyName(' T3B ')).toBe('t3b');
  });

  test('parsePolicyName names the bad value and the valid ones', () => {
    expect(() => parsePolicyName('t4')).toThrow(T3InputError);
    expect(() => parsePolicyName('t4')).toThrow(/unknown policy "t4".*generalist, expert, wise, ensemble, dawin, t3, t3b/);
    expect(() => parsePolicyName('')).toThrow(/unknown policy ""/);
  });

  test('defaultPolicyConfig gives α 0.5, plain DaWin, default hyperparameters, and a fresh copy each call', () => {
    const a = defaultPolicyConfig('wise');
    expect(a).toEqual({ name: 'wise', wiseAlpha: 0.5, dawinOffsetAdjusted: false, hyperparameters: DEFAULT_T3_HYPERPARAMETERS });
    a.hyperparameters.gamma = 9;
    expect(defaultPolicyConfig('wise').hyperparameters.gamma).toBe(0.5);
    expect(defaultPolicyConfig().name).toBe('t3b');
    expect(() => defaultPolicyConfig('nope' as never)).toThrow(/unknown policy "nope"/);
  });
});
