import { groupingRefutation } from '../../src/cli/fit';

/** The grouping chosen on estimates is kept only if the merged passes confirm it (fit.ts, groupingRefutation). */
describe('fit: merged passes confirm or refute the grouping chosen on estimates', () => {
  const streams = ['in-domain', 'broad', 'pooled'];
  const homogeneous = ['in-domain', 'broad'];
  const validation = (grouped: Record<string, number>) => ({
    't3b-fitted': { 'in-domain': 0.9, broad: 0.88, pooled: 0.86 },
    't3b-grouped': grouped,
  });

  test('confirms a grouping within 0.1 points on every split and not below T3B on the mean', () => {
    expect(groupingRefutation(validation({ 'in-domain': 0.8995, broad: 0.88, pooled: 0.87 }), homogeneous, streams)).toBeNull();
  });

  test('refutes a grouping that loses more than 0.1 points on a homogeneous split, naming it', () => {
    const reason = groupingRefutation(validation({ 'in-domain': 0.895, broad: 0.88, pooled: 0.9 }), homogeneous, streams);
    expect(reason).toMatch(/loses more than 0\.1 points against T3B on in-domain \(89\.5 against 90\.0\)/);
    expect(reason).toMatch(/dropped, plain T3B \(maxGroups 1\)/);
  });

  test('refutes a grouping whose mean is below T3B\'s even when each split stays within the tolerance', () => {
    const reason = groupingRefutation(validation({ 'in-domain': 0.8995, broad: 0.8795, pooled: 0.859 }), homogeneous, streams);
    expect(reason).toMatch(/grouping's mean \(87\.9 %\) is below T3B's \(88\.0 %\)/);
  });
});
