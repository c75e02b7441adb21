import { fitVerdict } from '../../src/evaluation';

const others = { "paper's map": 't3b-paper', 'WiSE-FT α=0.5': 'wise-0.5' };

describe('the verdict on a fitted map', () => {
  test('ships a map that is not below the better single model on the mean, and reports every difference', () => {
    const v = fitVerdict({
      generalist: { 'in-domain': 0.85, shifted: 0.94, pooled: 0.895 },
      expert: { 'in-domain': 0.9, shifted: 0.6, pooled: 0.75 },
      'wise-0.5': { 'in-domain': 0.88, shifted: 0.87, pooled: 0.875 },
      't3b-paper': { 'in-domain': 0.88, shifted: 0.88, pooled: 0.88 },
      't3b-fitted': { 'in-domain': 0.89, shifted: 0.95, pooled: 0.9 },
    }, ['in-domain', 'shifted', 'pooled'], 't3b-fitted', others);
    expect(v.ships).toBe(true);
    expect(v.reason).toBeNull();
    expect(v.betterSingle).toBe('generalist');
    const better = v.comparisons[0];
    expect(better.against).toBe('better single model');
    // Per column the better model of that column (as eval does); on the mean the one a site would deploy.
    expect(better.byStream['in-domain']).toEqual({ reference: 'expert', difference: expect.closeTo(-0.01, 12) });
    expect(better.byStream.shifted).toEqual({ reference: 'generalist', difference: expect.closeTo(0.01, 12) });
    expect(better.byStream.mean.reference).toBe('generalist');
    expect(better.byStream.mean.difference).toBeCloseTo((0.89 + 0.95 + 0.9 - 0.85 - 0.94 - 0.895) / 3, 12);
    expect(v.comparisons.map((c) => c.against)).toEqual(['better single model', "paper's map", 'WiSE-FT α=0.5']);
    expect(v.comparisons[1].byStream.shifted.difference).toBeCloseTo(0.07, 12);
  });

  test('refuses a map below the better single model, saying so in numbers; a tie ships', () => {
    const validation = {
      generalist: { 'in-domain': 0.83 }, expert: { 'in-domain': 0.9 }, 'wise-0.5': { 'in-domain': 0.86 },
      't3b-paper': { 'in-domain': 0.86 }, 't3b-fitted': { 'in-domain': 0.85 },
    };
    const refused = fitVerdict(validation, ['in-domain'], 't3b-fitted', others);
    expect(refused.ships).toBe(false);
    expect(refused.reason).toBe('the fitted map scores 85.0 % (mean over in-domain), −5.0 points against the expert alone (90.0 %)');
    const tie = fitVerdict({ ...validation, 't3b-fitted': { 'in-domain': 0.9 } }, ['in-domain'], 't3b-fitted', others);
    expect(tie.ships).toBe(true);
  });

  test('needs every compared policy on every stream', () => {
    expect(() => fitVerdict({ generalist: { a: 1 }, expert: { a: 1 }, 't3b-fitted': {} }, ['a'], 't3b-fitted', {})).toThrow(/no validation accuracy of "t3b-fitted" on "a"/);
  });
});
