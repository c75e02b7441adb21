/**
 * PixelMed DicomSRValidator on the 50-label shape (one non-ASCII label, private scheme, a LongCodeValue): the
 * slowest file for PixelMed (about 55 s on an idle machine), so it runs alone. The assertions on the PixelMed output
 * live in pixelmedCase; this file also checks that the shape really holds what it is meant to exercise.
 */
import { pixelmedCase } from './pixelmed-case';
import { srShapes } from './sr-fixtures';

it('the 50-label shape has 50 ranked labels, a non-ASCII meaning and a code longer than 16 characters', () => {
  const shape = srShapes().find((s) => s.name === 'per-image-50-labels');
  expect(shape).toBeDefined();
  const predictions = shape!.input.images[0].predictions;
  expect(predictions).toHaveLength(50);
  // eslint-disable-next-line no-control-regex -- the class spans all of ASCII, NUL included: any character outside it is non-ASCII
  expect(predictions.some((p) => /[^\x00-\x7f]/.test(p.code.meaning))).toBe(true);
  expect(predictions.some((p) => p.code.value.length > 16)).toBe(true);
});

pixelmedCase(['per-image-50-labels']);
