import { isRecord } from '../util/json-value';
import { BundleFileSchema } from '../engine/bundle-schema';
import { defaultSidecarConfig } from './sidecar-config';
import { SidecarConfigSchema } from './t3-schema';
import { CONFIG_ROOT } from './validate-config';

/**
 * The JSON Schemas published in schemas/ for administrators' editors, made from the schemas the sidecar validates
 * with. `npx tsx scripts/generate-schemas.ts` writes them; test/config/published-schemas.test.ts fails when a
 * committed file differs from what this code makes, so the published file cannot drift from the checks.
 */

type Schema = Record<string, unknown>;

/** Where each published schema is committed, relative to the repository root. */
export const T3_SCHEMA_FILE = 'schemas/t3.schema.json';
export const BUNDLE_SCHEMA_FILE = 'schemas/bundle.schema.json';

/** JSON Schema draft 7: Ajv's default and the draft editors (VS Code, IntelliJ) read without configuration. */
const DRAFT = 'http://json-schema.org/draft-07/schema#';

/** A TypeBox schema as plain JSON: TypeBox's symbol-keyed bookkeeping dropped, key order kept. */
export function plainSchema(schema: unknown): Schema {
  return JSON.parse(JSON.stringify(schema)) as Schema;
}

/**
 * The section as a file may write it: the sidecar merges a file onto its defaults object by object, so within an
 * object whose default is an object every key may be left out; the default is shown beside each value for editors.
 * Objects that replace a default of null (grpc.tls) and array items replace whole, so they keep their required keys.
 */
function asFileWritesIt(schema: Schema, defaults: unknown): Schema {
  const properties = schema.properties;
  if (isRecord(properties) && isRecord(defaults)) {
    const loosened: Schema = { ...schema };
    delete loosened.required;
    loosened.properties = Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, asFileWritesIt(v as Schema, defaults[k])]));
    return loosened;
  }
  return defaults === undefined ? schema : { ...schema, default: defaults };
}

/**
 * The schema of an Orthanc configuration file that holds the `T3` section (orthanc-config/t3.json). Orthanc's own
 * keys are left to Orthanc (any other top-level key is allowed); `T3` is the sidecar's section.
 */
export function t3FileSchema(): Schema {
  const section = asFileWritesIt(plainSchema(SidecarConfigSchema), defaultSidecarConfig());
  return {
    $schema: DRAFT,
    title: 'orthanc-t3 configuration (the T3 section of an Orthanc configuration file)',
    description: 'Generated from src/config/t3-schema.ts by scripts/generate-schemas.ts: do not edit. Values left out take the defaults shown; environment variables (T3_…) override. "errorMessages" is an annotation (the message the sidecar gives), not a JSON Schema keyword.',
    type: 'object',
    properties: { [CONFIG_ROOT]: section },
  };
}

/** The schema of a model bundle's bundle.json, as parseBundleManifest (src/engine/bundle-manifest.ts) checks it. */
export function bundleFileSchema(): Schema {
  return {
    $schema: DRAFT,
    title: 'orthanc-t3 model bundle (bundle.json, format version 1)',
    description: 'Generated from src/engine/bundle-schema.ts by scripts/generate-schemas.ts: do not edit. The sidecar also checks what one value cannot say alone: input.mean and input.std have input.channels values, class labels differ, t3.guardTemperature is set when the extrapolation guard is on, t3.minGroupSize and t3.maxGroups are whole numbers of at least 1, the estimators\' settings are in range, model files are inside the bundle folder. "errorMessages" is an annotation (the message the sidecar gives), not a JSON Schema keyword.',
    ...plainSchema(BundleFileSchema),
  };
}

/** How a schema is written to its file: two-space JSON and a final newline, so the committed file diffs cleanly. */
export function serializeSchema(schema: Schema): string {
  return JSON.stringify(schema, null, 2) + '\n';
}
