import { lambdaEstimateText, parseLambdaEstimateText } from '../../src/report/algorithm-parameters';
import type { LambdaEstimateRecord } from '../../src/t3';

describe('the SR text of a λ_B estimate', () => {
  test.each<LambdaEstimateRecord>([
    { method: 'sequential', outcome: 'decided', sampled: 10, confidence: 0.95, reusedFrom: null, sampleLambda: 1.0999999999999999 },
    { method: 'sequential', outcome: 'undecided', sampled: 32, confidence: null, reusedFrom: null, sampleLambda: 0.6 },
    { method: 'series-reuse', outcome: 'reused', sampled: 2, confidence: null, reusedFrom: '3f2a-uuid', sampleLambda: 0.1 },
    { method: 'series-reuse', outcome: 'check-failed-decided', sampled: 8, confidence: 0.9, reusedFrom: 'b/g1', sampleLambda: 0.35 },
  ])('$method $outcome reads back exactly', (record) => {
    expect(parseLambdaEstimateText(lambdaEstimateText(record))).toEqual(record);
  });

  test('writes the fields in a fixed order, confidence and source only when there are any', () => {
    expect(lambdaEstimateText({ method: 'series-reuse', outcome: 'reused', sampled: 2, confidence: null, reusedFrom: 'b1', sampleLambda: 0.5 }))
      .toBe('method=series-reuse;outcome=reused;sampled=2;sampleLambda=0.5;from=b1');
  });

  test('text of another writer (unknown method or outcome) is not taken for an estimate', () => {
    expect(parseLambdaEstimateText('method=quantized;outcome=decided;sampled=1;sampleLambda=0.5')).toBeNull();
    expect(parseLambdaEstimateText('method=sequential;outcome=guessed;sampled=1;sampleLambda=0.5')).toBeNull();
    expect(parseLambdaEstimateText('sequential')).toBeNull();
    expect(parseLambdaEstimateText('method=sequential;outcome=decided;sampleLambda=0.5')).toBeNull();
  });
});
