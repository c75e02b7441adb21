import { CategorizedError } from '../../errors';
import type { BundleManifest } from '../../engine';
import type { PipelineConfig } from './pipeline-config';

/** What every place that shows a result says about a demonstration model (log, metadata, worklist, SR). */
export const DEMONSTRATION_NOTICE =
  'demonstration model trained on synthetic images: not a medical device, its findings mean nothing for patients';

/** A production configuration names a demonstration bundle without allowing it. */
export class DemonstrationModelRefusedError extends CategorizedError {
  constructor(bundleName: string, dir: string, manifestName: string) {
    super(
      'failed-precondition',
      `bundle "${bundleName}" (${dir}, ${manifestName}) is a ${DEMONSTRATION_NOTICE}; this configuration is for production ` +
        '(T3.deployment.production: true). Configure a real bundle in T3.bundles, or allow it explicitly with ' +
        'T3.deployment.allowDemonstrationModels: true (T3_ALLOW_DEMONSTRATION_MODELS=true).',
    );
  }
}

/** Throws when a production configuration would load a demonstration bundle it does not explicitly allow. */
export function checkDemonstrationAllowed(entry: { name: string; dir: string }, manifest: BundleManifest, deployment: PipelineConfig['deployment']): void {
  if (manifest.demonstration !== true || !deployment?.production || deployment.allowDemonstrationModels) return;
  throw new DemonstrationModelRefusedError(entry.name, entry.dir, manifest.name);
}
