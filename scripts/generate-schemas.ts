/**
 * Writes the published JSON Schemas (schemas/*.schema.json) from the schemas the sidecar validates with:
 *
 *   npx tsx scripts/generate-schemas.ts
 *
 * test/config/published-schemas.test.ts compares the committed files (t3.json's section from src/config/t3-schema.ts,
 * bundle.json from src/engine/bundle-schema.ts) with what src/config/published-schema.ts makes,
 * so a schema change that was not regenerated fails the tests.
 */
import fs from 'node:fs';
import path from 'node:path';
import { BUNDLE_SCHEMA_FILE, bundleFileSchema, serializeSchema, t3FileSchema, T3_SCHEMA_FILE } from '../src/config/published-schema';

const REPO_ROOT = path.resolve(__dirname, '..');

const outputs: [string, string][] = [
  [T3_SCHEMA_FILE, serializeSchema(t3FileSchema())],
  [BUNDLE_SCHEMA_FILE, serializeSchema(bundleFileSchema())],
];
for (const [file, text] of outputs) {
  fs.mkdirSync(path.dirname(path.join(REPO_ROOT, file)), { recursive: true });
  fs.writeFileSync(path.join(REPO_ROOT, file), text);
  process.stdout.write(`wrote ${file} (${text.length} bytes)\n`);
}
