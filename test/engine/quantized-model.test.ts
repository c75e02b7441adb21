import { promises as fs } from 'node:fs';
import path from 'node:path';
import { onnx } from 'onnx-proto';
import { QuantizeError, buildQuantizedModel, getQuantizedModelFile, quantizedCacheFileName, sha256Hex } from '../../src/engine';
import { fixtureDir, maxAbsDiff, removeTempDirs, repoRoot, runPlain, tempDir, testPixels } from './onnx-test-helpers';

afterAll(removeTempDirs);

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT8 = onnx.TensorProto.DataType.INT8;

/** Seeded weights in [−scale, scale). */
function weights(length: number, seed: number, scale: number): Float32Array {
  const out = new Float32Array(length);
  let s = seed >>> 0;
  for (let i = 0; i < length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s / 2 ** 32) * 2 - 1) * scale;
  }
  return out;
}

function tensor(name: string, dims: number[], values: Float32Array): onnx.ITensorProto {
  return { name, dataType: FLOAT, dims, rawData: new Uint8Array(values.buffer) };
}

/**
 * pixel_values [N, 3, 8, 8] → Conv(4 filters, 3×3, pad 1) → Relu → Flatten → Gemm(transB, alpha 0.5, beta 2) → Relu →
 * MatMul → logits [N, 5]: one node of each kind the quantizer rewrites.
 */
function tinyModel(): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'tiny',
      input: [{ name: 'pixel_values', type: { tensorType: { elemType: FLOAT, shape: { dim: [{ dimParam: 'batch' }, { dimValue: 3 }, { dimValue: 8 }, { dimValue: 8 }] } } } }],
      output: [{ name: 'logits', type: { tensorType: { elemType: FLOAT, shape: { dim: [{ dimParam: 'batch' }, { dimValue: 5 }] } } } }],
      initializer: [
        tensor('conv.weight', [4, 3, 3, 3], weights(108, 1, 0.4)),
        tensor('conv.bias', [4], weights(4, 2, 0.1)),
        tensor('fc.weight', [16, 256], weights(16 * 256, 3, 0.1)),
        tensor('fc.bias', [16], weights(16, 4, 0.1)),
        tensor('head.weight', [16, 5], weights(80, 5, 0.5)),
      ],
      node: [
        { opType: 'Conv', input: ['pixel_values', 'conv.weight', 'conv.bias'], output: ['conv'], name: 'conv',
          attribute: [{ name: 'pads', type: onnx.AttributeProto.AttributeType.INTS, ints: [1, 1, 1, 1] }] },
        { opType: 'Relu', input: ['conv'], output: ['conv_relu'] },
        { opType: 'Flatten', input: ['conv_relu'], output: ['flat'] },
        { opType: 'Gemm', input: ['flat', 'fc.weight', 'fc.bias'], output: ['fc'], name: 'fc',
          attribute: [
            { name: 'transB', type: onnx.AttributeProto.AttributeType.INT, i: 1 },
            { name: 'alpha', type: onnx.AttributeProto.AttributeType.FLOAT, f: 0.5 },
            { name: 'beta', type: onnx.AttributeProto.AttributeType.FLOAT, f: 2 },
          ] },
        { opType: 'Relu', input: ['fc'], output: ['fc_relu'] },
        { opType: 'MatMul', input: ['fc_relu', 'head.weight'], output: ['logits'], name: 'head' },
      ],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

function opTypes(bytes: Uint8Array): string[] {
  return (onnx.ModelProto.decode(bytes).graph!.node ?? []).map((n) => n.opType!);
}

describe('buildQuantizedModel on a graph built here (Conv, Gemm, MatMul)', () => {
  const source = tinyModel();
  const count = 6;
  const dims = [count, 3, 8, 8];
  const pixels = testPixels(count, 8, 11);

  test('with conv: every weight node becomes an integer kernel with int8 weights, and the output stays close', async () => {
    const quantized = buildQuantizedModel(source, { conv: true });
    expect(quantized.summary).toMatchObject({ conv: true, matMuls: 1, gemms: 1, convs: 1, activationQuantizers: 3 });
    const ops = opTypes(quantized.bytes);
    expect(ops.filter((o) => o === 'MatMulInteger')).toHaveLength(2);
    expect(ops.filter((o) => o === 'ConvInteger')).toHaveLength(1);
    expect(ops.filter((o) => o === 'DynamicQuantizeLinear')).toHaveLength(3);
    expect(ops).not.toContain('MatMul');
    expect(ops).not.toContain('Gemm');
    expect(ops).not.toContain('Conv');
    const graph = onnx.ModelProto.decode(quantized.bytes).graph!;
    const names = graph.initializer!.map((t) => t.name);
    // The float weights are gone; their int8 copies hold one byte per element.
    for (const name of ['conv.weight', 'fc.weight', 'head.weight', 'conv.bias', 'fc.bias']) expect(names).not.toContain(name);
    const fc = graph.initializer!.find((t) => t.name === 'fc.weight::t3_int8')!;
    expect(fc.dataType).toBe(INT8);
    // Gemm's transposed [N, K] weight is stored as MatMulInteger's [K, N].
    expect(fc.dims!.map(Number)).toEqual([256, 16]);
    expect(fc.rawData!.length).toBe(256 * 16);
    expect(quantized.summary.int8WeightBytes).toBe(108 + 4096 + 80);
    expect(quantized.summary.floatWeightBytes).toBe(4 * (108 + 4096 + 80));

    const reference = await runPlain(source, pixels, dims);
    const output = await runPlain(quantized.bytes, pixels, dims);
    const largest = Math.max(...Array.from(reference, Math.abs));
    const error = maxAbsDiff(output, reference);
    expect(error).toBeLessThan(0.05 * largest);
    // Not the same graph evaluated twice: 8-bit rounding moves the logits.
    expect(error).toBeGreaterThan(1e-6);
  });

  test('without conv: the convolution stays float, MatMul and Gemm are quantized', async () => {
    const quantized = buildQuantizedModel(source, { conv: false });
    expect(quantized.summary).toMatchObject({ conv: false, matMuls: 1, gemms: 1, convs: 0, activationQuantizers: 2 });
    const ops = opTypes(quantized.bytes);
    expect(ops).toContain('Conv');
    expect(ops).not.toContain('ConvInteger');
    const names = onnx.ModelProto.decode(quantized.bytes).graph!.initializer!.map((t) => t.name);
    expect(names).toContain('conv.weight');
    const reference = await runPlain(source, pixels, dims);
    const output = await runPlain(quantized.bytes, pixels, dims);
    expect(maxAbsDiff(output, reference)).toBeLessThan(0.05 * Math.max(...Array.from(reference, Math.abs)));
  });

  test('a model that cannot be quantized says why, with a category', () => {
    const old = onnx.ModelProto.decode(source);
    old.opsetImport = [onnx.OperatorSetIdProto.create({ domain: '', version: 10 })];
    const tooOld = onnx.ModelProto.encode(old).finish();
    expect(() => buildQuantizedModel(tooOld, { conv: false })).toThrow(QuantizeError);
    expect(() => buildQuantizedModel(tooOld, { conv: false })).toThrow(/opset 10/);
    expect(() => buildQuantizedModel(new Uint8Array([1, 2, 3]), { conv: false })).toThrow(QuantizeError);
    try {
      buildQuantizedModel(tooOld, { conv: false });
    } catch (error) {
      expect((error as QuantizeError).category).toBe('failed-precondition');
    }
  });
});

/** Top-1 agreement and largest logit error of two [count × classes] outputs. */
function compare(a: Float32Array, b: Float32Array, classes: number): { agreement: number; maxError: number; largest: number } {
  const count = a.length / classes;
  let agree = 0;
  for (let r = 0; r < count; r++) {
    let ia = 0;
    let ib = 0;
    for (let c = 1; c < classes; c++) {
      if (a[r * classes + c] > a[r * classes + ia]) ia = c;
      if (b[r * classes + c] > b[r * classes + ib]) ib = c;
    }
    if (ia === ib) agree++;
  }
  return { agreement: agree / count, maxError: maxAbsDiff(a, b), largest: Math.max(...Array.from(a, Math.abs)) };
}

const realModels = [
  { name: 'trained demo CNN (Gemm projection)', file: path.join(repoRoot, 'bundles', 'demo-trained', 'generalist.onnx'), size: 64, nodes: 1 },
  // Exported without constant folding: every Linear is MatMul(x, Transpose(W)), which the quantizer folds first.
  { name: 'tiny ViT fixture (MatMul behind Transpose)', file: path.join(fixtureDir, 'tiny-vit-generalist.onnx'), size: 32, nodes: 9 },
];

describe.each(realModels)('int8 copy of the $name', (model) => {
  test('loads, runs, and stays close to the float model (logit error, argmax agreement)', async () => {
    const source = await fs.readFile(model.file);
    const quantized = buildQuantizedModel(source, { conv: false });
    expect(quantized.summary.matMuls + quantized.summary.gemms).toBe(model.nodes);
    const count = 32;
    const dims = [count, 3, model.size, model.size];
    const pixels = testPixels(count, model.size, 5);
    const reference = await runPlain(model.file, pixels, dims);
    const output = await runPlain(quantized.bytes, pixels, dims);
    const classes = reference.length / count;
    const { agreement, maxError, largest } = compare(reference, output, classes);
    expect(agreement).toBeGreaterThanOrEqual(0.9);
    expect(maxError).toBeLessThan(0.05 * largest);
    expect(maxError).toBeGreaterThan(0);
  });
});

describe('getQuantizedModelFile', () => {
  test('builds once per model hash, reuses the entry, and builds again when the model changes', async () => {
    const dir = await tempDir('quantized-cache');
    const cacheDir = path.join(dir, 'cache');
    const modelPath = path.join(dir, 'model.onnx');
    // A model no earlier run can have cached (the lookup also reads the shared temp-dir fallback): the demo model with a
    // documentation string of this run's own.
    const unique = async (source: string, note: string) => {
      const model = onnx.ModelProto.decode(await fs.readFile(source));
      model.docString = `${note} ${process.pid} ${Date.now()} ${Math.random()}`;
      await fs.writeFile(modelPath, onnx.ModelProto.encode(model).finish());
    };
    await unique(path.join(repoRoot, 'bundles', 'demo-trained', 'generalist.onnx'), 'cache test');
    const request = async () => getQuantizedModelFile({ modelPath, modelSha256: sha256Hex(await fs.readFile(modelPath)), options: { conv: false }, cacheDir });
    const first = await request();
    expect(first.cached).toBe(false);
    expect(first.cacheDir).toBe(cacheDir);
    expect(path.dirname(first.path)).toBe(cacheDir);
    const again = await request();
    expect(again).toMatchObject({ cached: true, path: first.path });

    // The "model changes": another model's bytes under the same file name.
    await unique(path.join(repoRoot, 'bundles', 'demo-trained', 'expert.onnx'), 'changed');
    const changed = await request();
    expect(changed.cached).toBe(false);
    expect(changed.path).not.toBe(first.path);
    const built = await fs.readFile(changed.path);
    expect(built.equals(Buffer.from(buildQuantizedModel(await fs.readFile(modelPath), { conv: false }).bytes))).toBe(true);
    // No temporary files are left behind by the atomic writes.
    expect((await fs.readdir(cacheDir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  test('the options and the quantizer version are part of the key', () => {
    const sha = 'a'.repeat(64);
    expect(quantizedCacheFileName({ modelSha256: sha, options: { conv: false } })).not.toBe(quantizedCacheFileName({ modelSha256: sha, options: { conv: true } }));
    expect(quantizedCacheFileName({ modelSha256: sha, options: { conv: false } })).toMatch(/^quantized-v\d+-int8-a{32}\.onnx$/);
  });

  test('a cache folder that cannot be written is passed over for the temp folder', async () => {
    const dir = await tempDir('quantized-readonly');
    // A path below a regular file can never be created, even by root (for whom permission bits do not stop writes).
    const blocker = path.join(dir, 'not-a-folder');
    await fs.writeFile(blocker, 'x');
    const modelPath = path.join(repoRoot, 'bundles', 'demo-trained', 'generalist.onnx');
    const result = await getQuantizedModelFile({ modelPath, modelSha256: sha256Hex(await fs.readFile(modelPath)), options: { conv: false }, cacheDir: path.join(blocker, 'cache') });
    expect(result.cacheDir).not.toContain(dir);
    expect((await fs.stat(result.path)).size).toBe(result.summary.outputBytes);
  });
});
