import type { LambdaEstimateRecord } from '../t3/sequential-lambda-estimation';
import type { AlgorithmRecord, ImageResult } from './types';

/**
 * Algorithm Parameters (111002) texts of TID 4019, one `key=value` per item. λ is written here because NUM items
 * are not allowed in Qualitative Evaluations (docs/SR.md). Numbers use JavaScript's shortest round-trip form, so the
 * parsed values are exactly the ones written.
 */
export function imageKey(image: { sopInstanceUid: string; frameNumber?: number }): string {
  return image.frameNumber === undefined ? image.sopInstanceUid : `${image.sopInstanceUid}#${image.frameNumber}`;
}

/** What an SR of a demonstration model says in its algorithm description (and its contributing equipment). */
export const DEMONSTRATION_SR_NOTICE =
  'DEMONSTRATION MODEL trained on synthetic images, not a medical device: its findings mean nothing for this patient';

export function algorithmParameterTexts(algorithm: AlgorithmRecord, images: ImageResult[]): string[] {
  const hp = algorithm.hyperparameters;
  const model = (m: AlgorithmRecord['models']['generalist']): string => `${m.name} ${m.version} sha256:${m.sha256}`;
  const texts = [
    `method=${algorithm.method}`,
    ...(algorithm.inputSetHash ? [`inputSet=${algorithm.inputSetHash}`] : []),
    // First, so a reader of the algorithm description meets it before any number.
    ...(algorithm.demonstration ? ['demonstration=true', `notice=${DEMONSTRATION_SR_NOTICE}`] : []),
    ...algorithm.batchLambdas.map((lambda, i) => `lambda[${i}]=${String(lambda)}`),
    // How many images gave each λ_B when it came from a sample ("all" when every image of that batch did).
    ...(algorithm.batchSampleSizes ?? []).map((size, i) => `lambdaSample[${i}]=${size === null ? 'all' : String(size)}`),
    // How an estimator (t3.estimators) gave each λ_B: its method, outcome, images sampled, confidence, reused batch.
    ...(algorithm.batchEstimates ?? []).flatMap((estimate, i) => (estimate ? [`lambdaEstimate[${i}]=${lambdaEstimateText(estimate)}`] : [])),
    // The precision of the fixed passes that estimated each λ_B, when some were int8 (the merged pass is full precision).
    ...(algorithm.batchPrecisions ?? []).map((precision, i) => `lambdaPrecision[${i}]=${precision}`),
    `batchSize=${algorithm.batchSize}`,
    `generalist=${model(algorithm.models.generalist)}`,
    `expert=${model(algorithm.models.expert)}`,
    `tPt=${String(hp.tPt)}`,
    `tFt=${String(hp.tFt)}`,
    `lambdaMin=${String(hp.lambdaMin)}`,
    `lambdaMax=${String(hp.lambdaMax)}`,
    `gamma=${String(hp.gamma)}`,
    // The rest of the coefficient map (docs/T3.md §2, §6): a result is reproducible only with all of it.
    `jsThreshold=${String(hp.jsThreshold)}`,
    `batchAggregation=${hp.batchAggregation}`,
    `guardTemperature=${hp.guardTemperature === null ? 'own' : String(hp.guardTemperature)}`,
    `logBase=${hp.logBase === null ? 'e' : String(hp.logBase)}`,
    `eps=${String(hp.eps)}`,
    // Grouped T3B's grouping, only on its SRs (the other methods do not group); its lambda[i] are one per group.
    ...(algorithm.method === 't3b-grouped' ? [`groupBy=${hp.groupBy}`, `minGroupSize=${String(hp.minGroupSize)}`, `maxGroups=${String(hp.maxGroups)}`] : []),
    `extTau=${String(hp.extTau)}`,
    `extDelta=${String(hp.extDelta)}`,
  ];
  for (const image of images) {
    texts.push(`imageLambda[${imageKey(image)}]=${String(image.lambda)}`);
    // One-model policies compute no divergence: nothing is recorded rather than a NaN.
    if (image.js !== null) texts.push(`imageJs[${imageKey(image)}]=${String(image.js)}`);
    if (image.coefficientSampled !== undefined) texts.push(`imageSampled[${imageKey(image)}]=${String(image.coefficientSampled)}`);
  }
  return texts;
}

/** `method=…;outcome=…;sampled=…;sampleLambda=…[;confidence=…][;from=…]`, read back by parseLambdaEstimateText. */
export function lambdaEstimateText(e: LambdaEstimateRecord): string {
  return [
    `method=${e.method}`, `outcome=${e.outcome}`, `sampled=${e.sampled}`, `sampleLambda=${String(e.sampleLambda)}`,
    ...(e.confidence === null ? [] : [`confidence=${String(e.confidence)}`]),
    ...(e.reusedFrom === null ? [] : [`from=${e.reusedFrom}`]),
  ].join(';');
}

/** The record lambdaEstimateText wrote; null when the text is not one (an SR of another writer). */
export function parseLambdaEstimateText(text: string): LambdaEstimateRecord | null {
  const fields = new Map(text.split(';').map((part) => {
    const at = part.indexOf('=');
    return [part.slice(0, at), part.slice(at + 1)] as const;
  }));
  const method = fields.get('method');
  const outcome = fields.get('outcome');
  if ((method !== 'sequential' && method !== 'series-reuse') || outcome === undefined) return null;
  if (!['decided', 'all-images', 'undecided', 'reused', 'check-failed', 'check-failed-decided'].includes(outcome)) return null;
  const confidence = fields.get('confidence');
  const sampled = Number(fields.get('sampled'));
  const sampleLambda = Number(fields.get('sampleLambda'));
  if (!Number.isInteger(sampled) || !Number.isFinite(sampleLambda)) return null;
  return {
    method, outcome: outcome as LambdaEstimateRecord['outcome'], sampled, sampleLambda,
    confidence: confidence === undefined ? null : Number(confidence), reusedFrom: fields.get('from') ?? null,
  };
}

/** Splits `key=value` texts (first '=' separates) into a map; later duplicates overwrite earlier ones. */
export function parseParameterTexts(texts: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const text of texts) {
    const at = text.indexOf('=');
    if (at > 0) out[text.slice(0, at)] = text.slice(at + 1);
  }
  return out;
}
