import { UsageError } from '../../src/cli/command';
import { groupByList, gammaCandidates, jsThresholdCandidates, lambdaRange, positiveIntegerList, positiveList } from '../../src/cli/fit-search-ranges';

describe('fit search ranges from the command line', () => {
  test('the defaults are the grids the shipped map was fitted with', () => {
    expect(lambdaRange(undefined)).toEqual([-0.2, 1.2]);
    expect(gammaCandidates(undefined)).toEqual([0.5, 1, 2, 4, 8, 16, 32, 64, 128, 256]);
    const taus = jsThresholdCandidates(undefined);
    expect(taus).toHaveLength(101);
    expect([taus[0], taus[1], taus[100]]).toEqual([0, 0.005, 0.5]);
  });

  test('widened ranges keep the default spacing and contain the default grid', () => {
    expect(gammaCandidates('0.5,1024')).toEqual([0.5, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]);
    // A bound the doubling misses is searched too, so the warning's range is the one the user asked for.
    expect(gammaCandidates('0.5,300').slice(-2)).toEqual([256, 300]);
    const taus = jsThresholdCandidates('0,0.693');
    expect(taus[taus.length - 1]).toBe(0.695);
    expect(taus.slice(0, 101)).toEqual(jsThresholdCandidates(undefined));
    expect(jsThresholdCandidates('0.0125,0.02')).toEqual([0.01, 0.015, 0.02]);
    expect(lambdaRange('-0.43,1.51')).toEqual([-0.45, 1.55]);
    expect(positiveList('guard-taus', '0.3,0.01,0.3', [])).toEqual([0.01, 0.3]);
  });

  test('grouped T3B candidates: defaults, widened lists, and refusal of non-integers', () => {
    expect(positiveIntegerList('min-group-sizes', undefined, [4, 8])).toEqual([4, 8]);
    expect(positiveIntegerList('min-group-sizes', '32, 2,2', [4])).toEqual([2, 32]);
    expect(() => positiveIntegerList('max-groups', '1,2.5', [1])).toThrow(/--max-groups must be a comma-separated list of positive integers, got "1,2.5"/);
    expect(() => positiveIntegerList('min-group-sizes', '0', [1])).toThrow(UsageError);
  });

  test.each([
    ['gamma-range', () => gammaCandidates('256,0.5'), /--gamma-range must be two numbers A,B with A < B, got "256,0.5"/],
    ['gamma-range', () => gammaCandidates('0,256'), /--gamma-range must be positive/],
    ['gamma-range', () => gammaCandidates('1,'), /--gamma-range must be two numbers/],
    ['js-threshold-range', () => jsThresholdCandidates('-0.1,0.5'), /--js-threshold-range must lie within \[0, 0.7\] nats/],
    ['js-threshold-range', () => jsThresholdCandidates('0,0.9'), /JS never exceeds ln 2/],
    ['lambda-range', () => lambdaRange('0.2,1.2'), /--lambda-range must contain 0 and 1/],
    ['lambda-range', () => lambdaRange('x,1'), /--lambda-range must be two numbers/],
    ['guard-deltas', () => positiveList('guard-deltas', '0.1,-1', []), /--guard-deltas must be a comma-separated list of positive numbers/],
  ])('--%s refuses a bad value, naming the option', (_option, parse, message) => {
    expect(parse).toThrow(UsageError);
    expect(parse).toThrow(message);
  });

  test('--group-by: both modes by default, a subset in the order given, unknown modes refused', () => {
    expect(groupByList(undefined)).toEqual(['js-step', 'series']);
    expect(groupByList('series')).toEqual(['series']);
    expect(groupByList('series, js-step,series')).toEqual(['series', 'js-step']);
    expect(() => groupByList('series,study')).toThrow(UsageError);
    expect(() => groupByList('')).toThrow(/--group-by must be a comma-separated list of js-step, series/);
  });
});
