/** An SR from a demonstration model says so in its algorithm description; the pipeline refuses one in production. */
import { buildAiResultSr, parseAiResultSr } from '../../src/report';
import { DEMONSTRATION_SR_NOTICE } from '../../src/report/algorithm-parameters';
import { parseBundleManifest } from '../../src/engine/bundle-manifest';
import { checkDemonstrationAllowed } from '../../src/pipeline/registry/demonstration-model';
import { summarizeTriage } from '../../src/pipeline/results/triage-summary';
import { algorithm, imageResult, rankedFindings, ROUTINE, sampleHeader, FIXED_TIME } from './sr-fixtures';
import fs from 'node:fs';
import path from 'node:path';

const header = sampleHeader('pydicom_CT_small.dcm');
const images = [imageResult(header, rankedFindings(3))];

test('the SR of a demonstration model carries demonstration=true and the notice; others do not', () => {
  const demo = parseAiResultSr(buildAiResultSr({ sourceHeader: header, images, algorithm: algorithm([0.5], { demonstration: true }), triage: ROUTINE, contentDateTime: FIXED_TIME }).bytes);
  expect(demo.demonstration).toBe(true);
  expect(demo.parameters.notice).toBe(DEMONSTRATION_SR_NOTICE);
  const real = parseAiResultSr(buildAiResultSr({ sourceHeader: header, images, algorithm: algorithm([0.5]), triage: ROUTINE, contentDateTime: FIXED_TIME }).bytes);
  expect(real.demonstration).toBe(false);
  expect(real.parameters.notice).toBeUndefined();
});

test('the shipped bundles declare themselves demonstration models; a production configuration refuses them unless allowed', () => {
  for (const dir of ['demo', 'demo-trained']) {
    const file = path.resolve(__dirname, '..', '..', 'bundles', dir, 'bundle.json');
    const manifest = parseBundleManifest(JSON.parse(fs.readFileSync(file, 'utf8')), file);
    expect(manifest.demonstration).toBe(true);
    const entry = { name: 'demo', dir: 'demo' };
    expect(() => checkDemonstrationAllowed(entry, manifest, undefined)).not.toThrow();
    expect(() => checkDemonstrationAllowed(entry, manifest, { production: false, allowDemonstrationModels: false })).not.toThrow();
    expect(() => checkDemonstrationAllowed(entry, manifest, { production: true, allowDemonstrationModels: true })).not.toThrow();
    expect(() => checkDemonstrationAllowed(entry, manifest, { production: true, allowDemonstrationModels: false }))
      .toThrow(/is a demonstration model .*T3\.deployment\.allowDemonstrationModels: true \(T3_ALLOW_DEMONSTRATION_MODELS=true\)/);
  }
  const bad = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', '..', 'bundles', 'demo', 'bundle.json'), 'utf8'));
  expect(() => parseBundleManifest({ ...bad, demonstration: 'yes' }, 'b.json')).toThrow(/demonstration.*must be true or false/);
  expect(parseBundleManifest({ ...bad, demonstration: undefined }, 'b.json').demonstration).toBe(false);
});

test('the review flag and the top findings are the texts a radiologist reads', () => {
  const summary = summarizeTriage(
    [{ predictions: [{ label: 'Pneumothorax', code: { value: '36118008', scheme: 'SCT', meaning: 'Pneumothorax' }, probability: 0.981 }, { label: 'Normal', code: { value: '17621005', scheme: 'SCT', meaning: 'Normal' }, probability: 0.019 }] },
      { predictions: [{ label: 'Normal', code: { value: '17621005', scheme: 'SCT', meaning: 'Normal' }, probability: 0.9 }] }],
    { priority: 'emergency', firedRule: { code: '36118008', threshold: 0.5, priority: 'emergency' }, needsHumanReview: true,
      reviewReason: 'the two models disagree on this study (divergence 0.41, limit 0.30): read with care',
      priorityReason: 'Pneumothorax 98 % (rule: ≥ 50 % → emergency)' },
  );
  expect(summary).toEqual({
    review: 'yes: the two models disagree on this study (divergence 0.41, limit 0.30): read with care',
    topFinding: 'Pneumothorax 98.1%', findings: 'Pneumothorax 98.1%; Normal 90.0%',
    priorityReason: 'Pneumothorax 98 % (rule: ≥ 50 % → emergency)',
  });
});
