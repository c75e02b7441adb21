import type { AlgorithmRecord } from '../../report';

/**
 * The model identity in one line, as T3Model keeps it for the feedback export: the bundle, then each model with a
 * SHA-256 prefix long enough to tell builds apart ("chest 1.2; generalist g 1.0 3fa2…; expert e 1.1 9c01…").
 */
export function modelIdentityText(algorithm: Pick<AlgorithmRecord, 'name' | 'version' | 'models'>): string {
  const model = (role: string, m: AlgorithmRecord['models']['generalist']): string => `${role} ${m.name} ${m.version} ${m.sha256.slice(0, 12)}`;
  return `${algorithm.name} ${algorithm.version}; ${model('generalist', algorithm.models.generalist)}; ${model('expert', algorithm.models.expert)}`;
}
