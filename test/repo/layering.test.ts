/**
 * The layering rule of README's "Layout": dependencies point down. Every relative import in src/ is read and each
 * folder may import only folders below it; inside pipeline/ the sub-folders follow their own order, and the method,
 * the SR and the decoders (t3/, report/, dicom/) do no I/O of their own. A new import that points up, or a file read
 * from the method, fails here with the file and the import named.
 */
import fs from 'node:fs';
import path from 'node:path';

const SRC = path.resolve(__dirname, '../../src');

/** Lowest first: a folder may import the folders before it, never one after it. */
const MODULE_ORDER = ['types', 'errors', 'util', 'worker-script', 't3', 'dicom', 'report', 'engine', 'pipeline', 'orthanc', 'grpc', 'config', 'evaluation', 'cli'];
const PIPELINE_ORDER = ['results', 'classification', 'jobs', 'routing', 'registry', 'speculation', '(pipeline)'];
/** Node modules that read or write outside the process: the pure folders must not import them. */
const IO_MODULES = ['fs', 'net', 'http', 'https', 'http2', 'child_process', 'dgram', 'axios'];
const PURE_MODULES = ['t3', 'report', 'dicom'];

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'generated' ? [] : sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const specifiers: string[] = [];
  for (const match of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'";]*?from\s*'([^']+)'|\brequire\(\s*'([^']+)'\s*\)|\bimport\(\s*'([^']+)'\s*\)/g)) {
    specifiers.push(match[1] ?? match[2] ?? match[3]);
  }
  return specifiers;
}

/** The top-level folder of a path under src/ (`worker-script` for src/worker-script.ts). */
function moduleOf(file: string): string {
  const [first] = path.relative(SRC, file).split(path.sep);
  return first.replace(/\.ts$/, '');
}

function pipelineLayerOf(file: string): string {
  const parts = path.relative(path.join(SRC, 'pipeline'), file).split(path.sep);
  return parts.length > 1 ? parts[0] : '(pipeline)';
}

const files = sourceFiles(SRC);

test('every src/ folder is in the layer order', () => {
  const folders = new Set(files.map(moduleOf));
  expect([...folders].filter((f) => !MODULE_ORDER.includes(f))).toEqual([]);
  const pipelineLayers = new Set(files.filter((f) => moduleOf(f) === 'pipeline').map(pipelineLayerOf));
  expect([...pipelineLayers].filter((l) => !PIPELINE_ORDER.includes(l))).toEqual([]);
});

test('imports only point down', () => {
  const upward: string[] = [];
  for (const file of files) {
    const from = moduleOf(file);
    for (const specifier of importsOf(file).filter((s) => s.startsWith('.'))) {
      const target = path.resolve(path.dirname(file), specifier);
      const to = moduleOf(target);
      const where = `${path.relative(SRC, file)} imports '${specifier}'`;
      if (to !== from && MODULE_ORDER.indexOf(to) > MODULE_ORDER.indexOf(from)) upward.push(`${where} (${from} → ${to})`);
      if (from === 'pipeline' && to === 'pipeline') {
        const a = pipelineLayerOf(file);
        const b = pipelineLayerOf(target.endsWith('.ts') ? target : `${target}.ts`);
        if (a !== b && PIPELINE_ORDER.indexOf(b) > PIPELINE_ORDER.indexOf(a)) upward.push(`${where} (pipeline/${a} → pipeline/${b})`);
      }
    }
  }
  expect(upward).toEqual([]);
});

test('t3/, report/ and dicom/ do no I/O of their own', () => {
  const io: string[] = [];
  for (const file of files.filter((f) => PURE_MODULES.includes(moduleOf(f)))) {
    for (const specifier of importsOf(file)) {
      if (IO_MODULES.includes(specifier.replace(/^node:/, '').split('/')[0])) io.push(`${path.relative(SRC, file)} imports '${specifier}'`);
    }
  }
  expect(io).toEqual([]);
});

test('the check sees an upward import (it can fail)', () => {
  // t3/ is below engine/: an import of engine/ from t3/ is what the rule forbids.
  const t3File = path.join(SRC, 't3', 'x.ts');
  const target = path.resolve(path.dirname(t3File), '../engine/t3-engine');
  expect(MODULE_ORDER.indexOf(moduleOf(target))).toBeGreaterThan(MODULE_ORDER.indexOf(moduleOf(t3File)));
  expect(importsOf(path.join(SRC, 'pipeline', 'sidecar.ts')).some((s) => s.startsWith('./jobs/'))).toBe(true);
});
