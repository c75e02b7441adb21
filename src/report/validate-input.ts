import { POLICY_NAMES } from '../t3/policy';
import { ReportError } from './errors';
import type { RankedFinding, SrInput } from './types';
import { PRIORITY_RANK } from './triage';
import { MAX_LO, MAX_SH, checkFinite, checkShortText, checkUid } from './value-format';

const HYPERPARAMETER_KEYS = ['tPt', 'tFt', 'lambdaMin', 'lambdaMax', 'gamma', 'jsThreshold', 'eps', 'extTau', 'extDelta'] as const;

function checkFindings(field: string, findings: RankedFinding[]): void {
  if (!Array.isArray(findings)) throw new ReportError(field, 'must be an array of ranked findings');
  const seen = new Set<string>();
  findings.forEach((finding, j) => {
    const at = `${field}[${j}]`;
    checkShortText(`${at}.label`, finding.label, MAX_LO, 'LO');
    if (typeof finding.code?.value !== 'string' || finding.code.value.trim().length === 0) {
      throw new ReportError(`${at}.code.value`, 'must be a non-empty string');
    }
    // Code values beyond 16 characters are legal: they are written as LongCodeValue (UC), not CodeValue (SH).
    checkShortText(`${at}.code.scheme`, finding.code.scheme, MAX_SH, 'SH');
    checkShortText(`${at}.code.meaning`, finding.code.meaning, MAX_LO, 'LO');
    checkFinite(`${at}.probability`, finding.probability, 0, 1);
    const key = `${finding.code.scheme}|${finding.code.value}`;
    if (seen.has(key)) throw new ReportError(`${at}.code`, `duplicates code ${finding.code.value} (${finding.code.scheme})`);
    seen.add(key);
  });
}

/** Checks everything buildAiResultSr writes; throws ReportError naming the first bad field. Returns the study UID. */
export function validateSrInput(input: SrInput): string {
  const header = input.sourceHeader;
  if (!header || typeof header !== 'object') throw new ReportError('sourceHeader', 'must be a naturalized dataset');
  const studyUid = checkUid('sourceHeader.StudyInstanceUID', header.StudyInstanceUID);

  if (!Array.isArray(input.images) || input.images.length === 0) {
    throw new ReportError('images', 'must hold at least one image result');
  }
  const keys = new Set<string>();
  input.images.forEach((image, i) => {
    const at = `images[${i}]`;
    checkUid(`${at}.sopClassUid`, image.sopClassUid);
    checkUid(`${at}.sopInstanceUid`, image.sopInstanceUid);
    checkUid(`${at}.seriesInstanceUid`, image.seriesInstanceUid);
    checkShortText(`${at}.modality`, image.modality, MAX_SH, 'CS');
    if (image.studyInstanceUid !== undefined && image.studyInstanceUid !== studyUid) {
      throw new ReportError(`${at}.studyInstanceUid`,
        `is ${image.studyInstanceUid} but the source header's study is ${studyUid}: one SR holds one study`);
    }
    if (image.frameNumber !== undefined && (!Number.isInteger(image.frameNumber) || image.frameNumber < 1)) {
      throw new ReportError(`${at}.frameNumber`, `must be a 1-based integer, got ${String(image.frameNumber)}`);
    }
    const key = `${image.sopInstanceUid}#${image.frameNumber ?? ''}`;
    if (keys.has(key)) throw new ReportError(at, `repeats image ${image.sopInstanceUid} frame ${image.frameNumber ?? '-'}`);
    keys.add(key);
    checkFindings(`${at}.predictions`, image.predictions);
    if (image.js !== null) checkFinite(`${at}.js`, image.js, 0);
    checkFinite(`${at}.lambda`, image.lambda);
  });
  if (input.studyFindings !== undefined) checkFindings('studyFindings', input.studyFindings);

  const algorithm = input.algorithm;
  if (!algorithm || typeof algorithm !== 'object') throw new ReportError('algorithm', 'is required');
  checkShortText('algorithm.name', algorithm.name, MAX_LO, 'LO');
  checkShortText('algorithm.version', algorithm.version, MAX_LO, 'LO');
  if (!(POLICY_NAMES as readonly string[]).includes(algorithm.method)) {
    throw new ReportError('algorithm.method', `must be one of ${POLICY_NAMES.join(', ')}, got ${String(algorithm.method)}`);
  }
  if (!Array.isArray(algorithm.batchLambdas)) throw new ReportError('algorithm.batchLambdas', 'must be an array');
  // Only T3B merges with one λ per batch (grouped T3B: one per group of a batch); the other policies have none.
  if ((algorithm.method === 't3b' || algorithm.method === 't3b-grouped') && algorithm.batchLambdas.length === 0) {
    throw new ReportError('algorithm.batchLambdas', `must hold the λ of at least one batch for method ${algorithm.method}`);
  }
  algorithm.batchLambdas.forEach((lambda, i) => checkFinite(`algorithm.batchLambdas[${i}]`, lambda));
  if (!Number.isInteger(algorithm.batchSize) || algorithm.batchSize < 1) {
    throw new ReportError('algorithm.batchSize', `must be a positive integer, got ${String(algorithm.batchSize)}`);
  }
  const hp = algorithm.hyperparameters;
  if (!hp || typeof hp !== 'object') throw new ReportError('algorithm.hyperparameters', 'is required');
  for (const key of HYPERPARAMETER_KEYS) checkFinite(`algorithm.hyperparameters.${key}`, hp[key]);
  if (hp.logBase !== null) checkFinite('algorithm.hyperparameters.logBase', hp.logBase, Number.MIN_VALUE);
  for (const role of ['generalist', 'expert'] as const) {
    const model = algorithm.models?.[role];
    if (!model) throw new ReportError(`algorithm.models.${role}`, 'is required');
    checkShortText(`algorithm.models.${role}.name`, model.name, MAX_LO, 'LO');
    checkShortText(`algorithm.models.${role}.version`, model.version, MAX_LO, 'LO');
    if (typeof model.sha256 !== 'string' || !/^[0-9a-f]{64}$/i.test(model.sha256)) {
      throw new ReportError(`algorithm.models.${role}.sha256`, 'must be 64 hexadecimal digits');
    }
  }

  const triage = input.triage;
  if (!triage || !(triage.priority in PRIORITY_RANK)) {
    throw new ReportError('triage.priority', `must be emergency, urgent or routine, got ${String(triage?.priority)}`);
  }
  if (typeof triage.needsHumanReview !== 'boolean') throw new ReportError('triage.needsHumanReview', 'must be a boolean');

  if (input.predecessor) {
    for (const key of ['studyInstanceUid', 'seriesInstanceUid', 'sopInstanceUid', 'sopClassUid'] as const) {
      checkUid(`predecessor.${key}`, input.predecessor[key]);
    }
    if (input.predecessor.studyInstanceUid !== studyUid) {
      throw new ReportError('predecessor.studyInstanceUid', `is not the study of this SR (${studyUid})`);
    }
  }
  if (input.rerun !== undefined) checkShortText('rerun', input.rerun, MAX_LO, 'LO');
  if (input.contentDateTime !== undefined
      && (!(input.contentDateTime instanceof Date) || Number.isNaN(input.contentDateTime.getTime()))) {
    throw new ReportError('contentDateTime', 'must be a valid Date');
  }
  return studyUid;
}
