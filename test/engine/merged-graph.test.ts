import { promises as fs } from 'node:fs';
import path from 'node:path';
import { onnx } from 'onnx-proto';
import { MergeError, buildMergedModel, getMergedModelFile, sha256Hex, LAMBDA_INPUT_NAME } from '../../src/engine';
import { demoDir, fixtureDir, maxAbsDiff, removeTempDirs, runPlain, tempDir, testPixels } from './onnx-test-helpers';

afterAll(removeTempDirs);

const pairs = [
  { name: 'demo CNN (opset 17)', generalist: path.join(demoDir, 'generalist.onnx'), expert: path.join(demoDir, 'expert.onnx'), size: 64 },
  { name: 'tiny ViT (opset 14, Constant nodes)', generalist: path.join(fixtureDir, 'tiny-vit-generalist.onnx'), expert: path.join(fixtureDir, 'tiny-vit-expert.onnx'), size: 32 },
];

describe.each(pairs)('merged graph of the $name pair', (pair) => {
  let generalist: Buffer;
  let expert: Buffer;
  let merged: ReturnType<typeof buildMergedModel>;
  beforeAll(async () => {
    generalist = await fs.readFile(pair.generalist);
    expert = await fs.readFile(pair.expert);
    merged = buildMergedModel(generalist, expert);
  });

  test('λ=0 and λ=1 reproduce the source models within 1e-4, and λ=0.5 lies elsewhere', async () => {
    const count = 5;
    const dims = [count, 3, pair.size, pair.size];
    const pixels = testPixels(count, pair.size, 7);
    const ptRef = await runPlain(pair.generalist, pixels, dims);
    const ftRef = await runPlain(pair.expert, pixels, dims);
    const at0 = await runPlain(merged.bytes, pixels, dims, 0);
    const at1 = await runPlain(merged.bytes, pixels, dims, 1);
    const atHalf = await runPlain(merged.bytes, pixels, dims, 0.5);
    expect(maxAbsDiff(at0, ptRef)).toBeLessThan(1e-4);
    expect(maxAbsDiff(at1, ftRef)).toBeLessThan(1e-4);
    // The two models really differ, so the checks above are not trivially satisfied.
    expect(maxAbsDiff(ptRef, ftRef)).toBeGreaterThan(0.1);
    expect(maxAbsDiff(atHalf, ptRef)).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(atHalf, ftRef)).toBeGreaterThan(1e-3);
  });

  test('differing weights are interpolated, identical ones stored once', () => {
    const model = onnx.ModelProto.decode(merged.bytes);
    const graph = model.graph!;
    const names = graph.initializer!.map((t) => t.name!);
    expect(new Set(names).size).toBe(names.length);
    const s = merged.summary;
    expect(s.mergedInitializers).toBeGreaterThan(0);
    expect(s.sharedInitializers).toBeGreaterThan(0);
    // Each merged weight appears twice (generalist, expert), each shared one once, plus the constant 1.
    expect(names.length).toBe(2 * s.mergedInitializers + s.sharedInitializers + 1);
    expect(names.filter((n) => n.endsWith('::t3_generalist')).length).toBe(s.mergedInitializers);
    expect(names.filter((n) => n.endsWith('::t3_expert')).length).toBe(s.mergedInitializers);
    // The logit scale is equal in both models: kept once under its own name, not interpolated.
    expect(names).toContain('head.logit_scale');
    expect(names).not.toContain('head.logit_scale::t3_generalist');
    expect(s.outputBytes).toBe(merged.bytes.length);
    expect(merged.bytes.length).toBeLessThan(generalist.length + expert.length + 64 * 1024);
    const lambdaInput = graph.input!.find((i) => i.name === LAMBDA_INPUT_NAME)!;
    expect(lambdaInput.type!.tensorType!.elemType).toBe(onnx.TensorProto.DataType.FLOAT);
    expect(lambdaInput.type!.tensorType!.shape!.dim!.length).toBe(0);
    // Formula B: Add(Mul(W_pt, 1−λ), Mul(W_ft, λ)), never the subtraction form.
    const adds = graph.node!.filter((n) => n.name?.startsWith('t3_merge/') && n.opType === 'Add');
    expect(adds.length).toBe(s.mergedInitializers);
  });

  test('the offset form: bit-identical to lerp at λ=0, within 1e-4 of the expert at λ=1, within 1e-5 of lerp between', async () => {
    const offset = buildMergedModel(generalist, expert, 'offset');
    expect(offset.summary.form).toBe('offset');
    expect(merged.summary.form).toBe('lerp');
    const count = 5;
    const dims = [count, 3, pair.size, pair.size];
    const pixels = testPixels(count, pair.size, 7);
    const ftRef = await runPlain(pair.expert, pixels, dims);
    expect(maxAbsDiff(await runPlain(offset.bytes, pixels, dims, 0), await runPlain(merged.bytes, pixels, dims, 0))).toBe(0);
    expect(maxAbsDiff(await runPlain(offset.bytes, pixels, dims, 1), ftRef)).toBeLessThan(1e-4);
    const halfOffset = await runPlain(offset.bytes, pixels, dims, 0.5);
    const halfLerp = await runPlain(merged.bytes, pixels, dims, 0.5);
    expect(maxAbsDiff(halfOffset, halfLerp)).toBeLessThan(1e-5);
    expect(maxAbsDiff(halfOffset, ftRef)).toBeGreaterThan(1e-3);
  });

  test('the offset form stores the generalist and ΔW = W_ft − W_pt (float32) per differing weight, one Mul and one Add', () => {
    const offset = buildMergedModel(generalist, expert, 'offset');
    const graph = onnx.ModelProto.decode(offset.bytes).graph!;
    const byName = new Map(graph.initializer!.map((t) => [t.name!, t]));
    const s = offset.summary;
    expect(byName.size).toBe(graph.initializer!.length);
    expect(byName.size).toBe(2 * s.mergedInitializers + s.sharedInitializers);
    expect([...byName.keys()].filter((n) => n.endsWith('::t3_offset')).length).toBe(s.mergedInitializers);
    expect([...byName.keys()].some((n) => n.endsWith('::t3_expert'))).toBe(false);
    const mergeNodes = graph.node!.filter((n) => n.name?.startsWith('t3_merge/'));
    expect(mergeNodes.filter((n) => n.opType === 'Mul')).toHaveLength(s.mergedInitializers);
    expect(mergeNodes.filter((n) => n.opType === 'Add')).toHaveLength(s.mergedInitializers);
    expect(mergeNodes).toHaveLength(2 * s.mergedInitializers);
    // One weight checked value by value against the two source models.
    const source = (bytes: Buffer) => new Map(onnx.ModelProto.decode(bytes).graph!.initializer!.map((t) => [t.name!, t]));
    const name = [...byName.keys()].find((n) => n.endsWith('::t3_offset'))!.replace('::t3_offset', '');
    const floats = (t: onnx.ITensorProto) => t.rawData && t.rawData.length > 0
      ? new Float32Array(Uint8Array.from(t.rawData).buffer) : Float32Array.from(t.floatData!);
    const pt = floats(source(generalist).get(name)!);
    const ft = floats(source(expert).get(name)!);
    const delta = floats(byName.get(`${name}::t3_offset`)!);
    expect(delta).toHaveLength(pt.length);
    expect(Array.from(delta)).toEqual(Array.from(pt, (v, i) => Math.fround(ft[i] - v)));
    expect(delta.some((v) => v !== 0)).toBe(true);
  });

  test('a model merged with itself shares every weight', () => {
    const self = buildMergedModel(generalist, generalist);
    expect(self.summary.mergedInitializers).toBe(0);
    expect(self.bytes.length).toBeLessThan(generalist.length + 4096);
  });
});

test('Constant nodes become initializers before the merge (tiny ViT)', () => {
  const vit = pairs[1];
  return Promise.all([fs.readFile(vit.generalist), fs.readFile(vit.expert)]).then(([a, b]) => {
    const merged = buildMergedModel(a, b);
    expect(merged.summary.constantsMoved).toBeGreaterThan(10);
    const nodes = onnx.ModelProto.decode(merged.bytes).graph!.node!;
    expect(nodes.some((n) => n.opType === 'Constant')).toBe(false);
  });
});

describe('merge failures name the problem', () => {
  let generalist: Buffer;
  let expert: Buffer;
  beforeAll(async () => {
    generalist = await fs.readFile(pairs[0].generalist);
    expert = await fs.readFile(pairs[0].expert);
  });

  test('two different architectures', async () => {
    const vit = await fs.readFile(pairs[1].expert);
    expect(() => buildMergedModel(generalist, vit)).toThrow(MergeError);
    expect(() => buildMergedModel(generalist, vit)).toThrow(/opsets|graphs differ/);
  });

  test('the first differing node is named', () => {
    const model = onnx.ModelProto.decode(expert);
    const node = model.graph!.node![3];
    const original = node.opType;
    node.opType = original === 'Relu' ? 'Sigmoid' : 'Relu';
    const changed = onnx.ModelProto.encode(model).finish();
    expect(() => buildMergedModel(generalist, changed)).toThrow(new RegExp(`the graphs differ at node 3 \\(${original} "${node.name}"`));
  });

  test('a removed node', () => {
    const model = onnx.ModelProto.decode(expert);
    model.graph!.node!.pop();
    expect(() => buildMergedModel(generalist, onnx.ModelProto.encode(model).finish())).toThrow(/generalist has \d+ nodes, expert has \d+/);
  });

  test('a weight of another shape', () => {
    const model = onnx.ModelProto.decode(expert);
    const t = model.graph!.initializer!.find((i) => i.name === 'proj.bias')!;
    t.dims = [t.rawData!.length / 8];
    t.rawData = t.rawData!.subarray(0, t.rawData!.length / 2);
    expect(() => buildMergedModel(generalist, onnx.ModelProto.encode(model).finish())).toThrow(/initializer "proj\.bias" has type 1 shape \[64\] in the generalist but type 1 shape \[32\]/);
  });

  test('the offset form refuses a weight difference that overflows float32', () => {
    const model = onnx.ModelProto.decode(expert);
    const other = onnx.ModelProto.decode(generalist);
    const set = (m: onnx.ModelProto, value: number) => {
      const t = m.graph!.initializer!.find((i) => i.name === 'proj.bias')!;
      const values = new Float32Array(Uint8Array.from(t.rawData!).buffer);
      values[3] = value;
      t.rawData = new Uint8Array(values.buffer);
    };
    set(model, 3e38);
    set(other, -3e38);
    const [g, e] = [onnx.ModelProto.encode(other).finish(), onnx.ModelProto.encode(model).finish()];
    expect(() => buildMergedModel(g, e, 'offset')).toThrow(/initializer "proj\.bias": the expert's weight minus the generalist's is not a finite float32 at element 3/);
    expect(buildMergedModel(g, e, 'lerp').summary.form).toBe('lerp');
  });

  test('bytes that are not an ONNX model', () => {
    expect(() => buildMergedModel(Buffer.from('not a model at all, just text'), expert)).toThrow(/generalist: not an ONNX model/);
    expect(() => buildMergedModel(generalist, Buffer.alloc(0))).toThrow(/expert: not an ONNX model/);
  });
});

describe('merged model cache', () => {
  test('built once, then reused, keyed by both hashes', async () => {
    const dir = await tempDir('cache');
    const request = {
      generalistPath: pairs[0].generalist, expertPath: pairs[0].expert,
      generalistSha256: sha256Hex(await fs.readFile(pairs[0].generalist)),
      expertSha256: sha256Hex(await fs.readFile(pairs[0].expert)),
      cacheDir: dir,
    };
    const first = await getMergedModelFile(request);
    expect(first.cached).toBe(false);
    expect(path.dirname(first.path)).toBe(dir);
    expect(path.basename(first.path)).toContain(request.generalistSha256.slice(0, 20));
    expect(path.basename(first.path)).toContain(request.expertSha256.slice(0, 20));
    const second = await getMergedModelFile(request);
    expect(second).toMatchObject({ cached: true, path: first.path });
    expect(second.summary).toEqual(first.summary);
    // Another pair (swapped roles) gets its own entry.
    const swapped = await getMergedModelFile({ ...request, generalistPath: request.expertPath, expertPath: request.generalistPath,
      generalistSha256: request.expertSha256, expertSha256: request.generalistSha256 });
    expect(swapped.path).not.toBe(first.path);
    // So does the other form of the same pair.
    const offset = await getMergedModelFile({ ...request, form: 'offset' });
    expect(offset).toMatchObject({ cached: false, summary: { form: 'offset' } });
    expect(offset.path).not.toBe(first.path);
    expect(first.summary.form).toBe('lerp');
  });

  test('an unwritable cache folder falls back to the OS temp dir', async () => {
    const dir = await tempDir('cache-ro');
    const blocker = path.join(dir, 'file');
    await fs.writeFile(blocker, 'a file where the cache folder would be');
    const g = await fs.readFile(pairs[1].generalist);
    const e = await fs.readFile(pairs[1].expert);
    const result = await getMergedModelFile({ generalistPath: pairs[1].generalist, expertPath: pairs[1].expert,
      generalistSha256: sha256Hex(g), expertSha256: sha256Hex(e), cacheDir: path.join(blocker, 'cache') });
    expect(result.path.startsWith(path.join(blocker, 'cache'))).toBe(false);
    expect(result.cacheDir).toMatch(/orthanc-t3-merged-cache$/);
    await fs.stat(result.path);
  });
});
