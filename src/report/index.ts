export * from './errors';
export * from './types';
export * from './triage';
export * from './codes';
export * from './content-items';
export * from './uids';
export * from './value-format';
export * from './algorithm-parameters';
export { validateSrInput } from './validate-input';
export { buildAiResultSr, deriveSrUids, COMPREHENSIVE_3D_SR_SOP_CLASS, MANUFACTURER, SR_SERIES_NUMBER,
  SR_SERIES_DESCRIPTION, type SrUids } from './build-sr';
export { parseAiResultSr } from './parse-sr';
