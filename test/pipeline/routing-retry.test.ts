import { chooseBundle, type RoutingAttributes } from '../../src/pipeline/routing/routing';
import { retryDelayMs, shouldPark } from '../../src/pipeline/jobs/retry-policy';
import { inputSetHash } from '../../src/pipeline/classification/input-set';

const attrs = (a: Partial<RoutingAttributes>): RoutingAttributes => ({
  modality: 'CR', sopClassUid: '1.2.840.10008.5.1.4.1.1.1', bodyPartExamined: 'CHEST', studyDescription: 'Chest PA',
  seriesDescription: 'PA', callingAet: 'XRAY1', ...a,
});

test('routing: the first matching rule wins, every present field must match, else the default', () => {
  const table = {
    rules: [
      { bundle: 'ct', modality: ['CT'], bodyPartExamined: ['chest'] },
      { bundle: 'mr-brain', modality: ['MR'], seriesDescription: 'brain|head' },
      { bundle: 'er', callingAet: ['ER_CR'] },
      { bundle: 'sc', sopClassUid: ['1.2.840.10008.5.1.4.1.1.7'], studyDescription: '^screen' },
    ],
    defaultBundle: 'chest',
  };
  expect(chooseBundle(table, attrs({ modality: 'CT', bodyPartExamined: 'CHEST' }))).toBe('ct');
  expect(chooseBundle(table, attrs({ modality: 'CT', bodyPartExamined: 'ABDOMEN' }))).toBe('chest');
  expect(chooseBundle(table, attrs({ modality: 'MR', seriesDescription: 'T1 Brain axial' }))).toBe('mr-brain');
  expect(chooseBundle(table, attrs({ callingAet: 'ER_CR' }))).toBe('er');
  expect(chooseBundle(table, attrs({ callingAet: null }))).toBe('chest');
  expect(chooseBundle(table, attrs({ sopClassUid: '1.2.840.10008.5.1.4.1.1.7', studyDescription: 'Screening' }))).toBe('sc');
  expect(chooseBundle({ rules: [], defaultBundle: null }, attrs({}))).toBeNull();
});

test('retry: doubling backoff capped at maxDelayMs, parked after maxAttempts', () => {
  const s = { maxAttempts: 3, initialDelayMs: 100, maxDelayMs: 300 };
  expect([1, 2, 3, 4].map((a) => retryDelayMs(s, a))).toEqual([100, 200, 300, 300]);
  expect(shouldPark(s, 2)).toBe(false);
  expect(shouldPark(s, 3)).toBe(true);
});

test('input-set hash: order-free over images, changes with a new image, the model or the policy', () => {
  const bundle = { name: 'b', version: '1', generalistSha256: 'g', expertSha256: 'e' };
  const h = inputSetHash({ sopInstanceUids: ['1', '2'], bundle, policy: 't3b' });
  expect(inputSetHash({ sopInstanceUids: ['2', '1'], bundle, policy: 't3b' })).toBe(h);
  expect(inputSetHash({ sopInstanceUids: ['1', '2', '3'], bundle, policy: 't3b' })).not.toBe(h);
  expect(inputSetHash({ sopInstanceUids: ['1', '2'], bundle: { ...bundle, expertSha256: 'x' }, policy: 't3b' })).not.toBe(h);
  expect(inputSetHash({ sopInstanceUids: ['1', '2'], bundle, policy: 't3' })).not.toBe(h);
});
