import { onnx } from 'onnx-proto';
import { decodeOnnxModel } from './onnx-model-file';

/** The two source models cannot be merged; the message names the first structural difference. */
export class MergeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MergeError';
  }
}

/** Name of the scalar float graph input that selects the interpolation point (0 = generalist, 1 = expert). */
export const LAMBDA_INPUT_NAME = 'lambda';

/**
 * How a weight that differs between the models is recomputed from λ in the merged graph. Both store two tensors per
 * weight (no extra memory) and keep λ a graph input.
 * - `lerp`: `W = Add(Mul(W_pt, 1 − λ), Mul(W_ft, λ))` (docs/ONNX.md formula B). Exact at λ=0 and at λ=1, so the merged
 *   session can also serve the fixed passes (the generalist and the expert themselves).
 * - `offset`: `W = Add(W_pt, Mul(ΔW, λ))` with `ΔW = W_ft − W_pt` computed once in float32 at build time. One
 *   multiply instead of two and one pass less over every weight: the merged pass of a ViT-B/16 at batch 1 took 1.26×
 *   a plain pass instead of 1.43× (measured here, one run, interleaved). Exact at λ=0 only; at λ=1 a weight can be
 *   1 ulp off, so it is built only where plain sessions run the fixed passes and the merged graph never serves λ=1.
 */
export type MergedGraphForm = 'lerp' | 'offset';

export interface MergeSummary {
  /** How differing weights are recomputed from λ. */
  form: MergedGraphForm;
  /** Float initializers that differ between the models: both copies stored, interpolated in-graph. */
  mergedInitializers: number;
  /** Initializers equal in both models: stored once. */
  sharedInitializers: number;
  /** `Constant` nodes turned into initializers before merging (per model). */
  constantsMoved: number;
  /** Bytes of tensor data of the interpolated initializers, per model. */
  mergedBytesPerModel: number;
  /** Bytes of tensor data of the shared initializers. */
  sharedBytes: number;
  /** Size of the merged ONNX file. */
  outputBytes: number;
}

export interface MergedModel {
  bytes: Uint8Array;
  summary: MergeSummary;
}

// A number, as TensorProto.dataType is typed: the enum member would compare as a different type.
const FLOAT: number = onnx.TensorProto.DataType.FLOAT;

/**
 * Turns top-level `Constant` nodes carrying a tensor into initializers of the same name, so weights that an
 * exporter stored as constants are merged like any other weight. Returns how many were moved.
 */
export function moveConstantsToInitializers(graph: onnx.GraphProto): number {
  const kept: onnx.NodeProto[] = [];
  let moved = 0;
  for (const node of graph.node as onnx.NodeProto[]) {
    const value = node.opType === 'Constant' && (node.domain ?? '') === '' && node.attribute.length === 1
      && node.attribute[0].name === 'value' ? node.attribute[0].t : null;
    if (value && node.output.length === 1) {
      graph.initializer.push(onnx.TensorProto.create({ ...value, name: node.output[0] }));
      moved++;
    } else {
      kept.push(node);
    }
  }
  graph.node = kept;
  return moved;
}

function tensorByteLength(t: onnx.ITensorProto): number {
  if (t.rawData && t.rawData.length > 0) return t.rawData.length;
  return onnx.TensorProto.encode(onnx.TensorProto.create({ ...t, name: '', docString: '' })).len;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0;
}

function encodeWithoutName(t: onnx.ITensorProto): Uint8Array {
  return onnx.TensorProto.encode(onnx.TensorProto.create({ ...t, name: '', docString: '' })).finish();
}

function dimsText(t: onnx.ITensorProto): string {
  return `[${(t.dims ?? []).map((d) => String(d)).join(', ')}]`;
}

// ONNX stores raw float data little-endian, and onnxruntime-node ships for little-endian hosts only (x64, arm64), so
// raw bytes and Float32Array share one byte order.

/** The values of a float32 tensor (raw bytes or the repeated float field), in a buffer of their own. */
function floatValues(t: onnx.ITensorProto): Float32Array {
  // A copy: the raw bytes sit at any offset of the decoded file, and a Float32Array needs 4-byte alignment.
  if (t.rawData && t.rawData.length > 0) return new Float32Array(Uint8Array.from(t.rawData).buffer);
  return Float32Array.from(t.floatData ?? []);
}

/** `ft − pt` element by element, rounded to float32, as a raw-data tensor of the same shape. */
function offsetTensor(name: string, pt: onnx.ITensorProto, ft: onnx.ITensorProto): onnx.TensorProto {
  const a = floatValues(pt);
  const b = floatValues(ft);
  const offset = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) {
    offset[i] = b[i] - a[i];
    if (!Number.isFinite(offset[i])) {
      throw new MergeError(`initializer "${pt.name}": the expert's weight minus the generalist's is not a finite float32 at element ${i} (${a[i]} and ${b[i]}); the offset form of the merged graph needs finite differences`);
    }
  }
  return onnx.TensorProto.create({ name, dataType: FLOAT, dims: pt.dims, rawData: new Uint8Array(offset.buffer) });
}

/** True when the two tensors hold the same type, shape and values. */
function tensorsEqual(a: onnx.ITensorProto, b: onnx.ITensorProto): boolean {
  if (a.dataType !== b.dataType || dimsText(a) !== dimsText(b)) return false;
  if (a.rawData && a.rawData.length > 0 && b.rawData && b.rawData.length > 0) return bytesEqual(a.rawData, b.rawData);
  return bytesEqual(encodeWithoutName(a), encodeWithoutName(b));
}

/** A node's structure for comparison: everything except its name and documentation. */
function nodeSignature(node: onnx.INodeProto): Uint8Array {
  return onnx.NodeProto.encode(onnx.NodeProto.create({ ...node, name: '', docString: '' })).finish();
}

function describeNode(node: onnx.INodeProto, index: number): string {
  return `node ${index} (${node.opType}${node.name ? ` "${node.name}"` : ''}: ${(node.input ?? []).join(', ')} -> ${(node.output ?? []).join(', ')})`;
}

function valueInfoSignature(v: onnx.IValueInfoProto): string {
  return `${v.name}:${JSON.stringify(onnx.TypeProto.toObject(onnx.TypeProto.create(v.type ?? {}), { longs: String }))}`;
}

function checkSameStructure(pt: DecodedGraph, ft: DecodedGraph, ptModel: onnx.ModelProto, ftModel: onnx.ModelProto): void {
  const opsets = (m: onnx.ModelProto) => m.opsetImport.map((o) => `${o.domain || 'ai.onnx'}@${String(o.version)}`).sort().join(',');
  if (opsets(ptModel) !== opsets(ftModel)) {
    throw new MergeError(`the models import different opsets: generalist ${opsets(ptModel)}, expert ${opsets(ftModel)}`);
  }
  if (pt.node.length !== ft.node.length) {
    const n = Math.min(pt.node.length, ft.node.length);
    let first = 0;
    while (first < n && bytesEqual(nodeSignature(pt.node[first]), nodeSignature(ft.node[first]))) first++;
    const where = first < n
      ? `; first difference at ${describeNode(pt.node[first], first)} vs ${describeNode(ft.node[first], first)}`
      : '';
    throw new MergeError(`the graphs differ: generalist has ${pt.node.length} nodes, expert has ${ft.node.length}${where}`);
  }
  for (let i = 0; i < pt.node.length; i++) {
    if (!bytesEqual(nodeSignature(pt.node[i]), nodeSignature(ft.node[i]))) {
      throw new MergeError(`the graphs differ at ${describeNode(pt.node[i], i)} in the generalist vs ${describeNode(ft.node[i], i)} in the expert`);
    }
  }
  for (const [kind, a, b] of [['input', pt.input, ft.input], ['output', pt.output, ft.output]] as const) {
    const sa = a.map(valueInfoSignature);
    const sb = b.map(valueInfoSignature);
    if (sa.join('|') !== sb.join('|')) {
      throw new MergeError(`the graphs differ in their ${kind}s: generalist [${sa.join('; ')}], expert [${sb.join('; ')}]`);
    }
  }
  const ftNames = new Set(ft.initializer.map((t) => t.name));
  const ptNames = new Set(pt.initializer.map((t) => t.name));
  for (const t of pt.initializer) if (!ftNames.has(t.name)) throw new MergeError(`initializer "${t.name}" is in the generalist but not in the expert`);
  for (const t of ft.initializer) if (!ptNames.has(t.name)) throw new MergeError(`initializer "${t.name}" is in the expert but not in the generalist`);
  if (pt.sparseInitializer.length > 0 || ft.sparseInitializer.length > 0) throw new MergeError('sparse initializers are not supported');
}

type DecodedGraph = onnx.GraphProto & { node: onnx.NodeProto[]; initializer: onnx.TensorProto[]; input: onnx.ValueInfoProto[]; output: onnx.ValueInfoProto[] };

function checkNoExternalData(graph: onnx.GraphProto, role: string): void {
  for (const t of graph.initializer as onnx.TensorProto[]) {
    if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL || t.externalData.length > 0) {
      throw new MergeError(`initializer "${t.name}" of the ${role} keeps its data in an external file, which the merger does not read; save the model with its weights inside`);
    }
  }
}

function decodeSourceModel(bytes: Uint8Array, role: 'generalist' | 'expert'): onnx.ModelProto {
  try {
    return decodeOnnxModel(bytes);
  } catch (error) {
    throw new MergeError(`${role}: ${(error as Error).message}`);
  }
}

/** Hands out node and tensor names that no name of the graph (nor an earlier one handed out) already uses. */
function freshNameAllocator(graph: DecodedGraph): (base: string) => string {
  const usedNames = new Set<string>();
  for (const v of [...graph.input, ...graph.output]) usedNames.add(v.name);
  for (const t of graph.initializer) usedNames.add(t.name);
  for (const n of graph.node) for (const o of n.output) usedNames.add(o);
  if (usedNames.has(LAMBDA_INPUT_NAME)) {
    throw new MergeError(`the models already use the name "${LAMBDA_INPUT_NAME}", which the merged graph needs for its interpolation input`);
  }
  return (base: string): string => {
    let name = base;
    for (let i = 1; usedNames.has(name); i++) name = `${base}_${i}`;
    usedNames.add(name);
    return name;
  };
}

/** The stored tensors and the nodes that recompute one differing weight `name` from λ, in the given form. */
function interpolatedWeight(
  ptTensor: onnx.TensorProto,
  ftTensor: onnx.TensorProto,
  form: MergedGraphForm,
  unique: (base: string) => string,
  oneMinusLambda: string,
): { initializers: onnx.ITensorProto[]; nodes: onnx.INodeProto[] } {
  const name = ptTensor.name;
  const ptName = unique(`${name}::t3_generalist`);
  const generalist = onnx.TensorProto.create({ ...ptTensor, name: ptName });
  if (form === 'offset') {
    const offsetName = unique(`${name}::t3_offset`);
    const offsetScaled = unique(`${name}::t3_offset_scaled`);
    return {
      initializers: [generalist, offsetTensor(offsetName, ptTensor, ftTensor)],
      nodes: [
        { opType: 'Mul', input: [offsetName, LAMBDA_INPUT_NAME], output: [offsetScaled], name: unique(`t3_merge/${name}/mul_offset`) },
        { opType: 'Add', input: [ptName, offsetScaled], output: [name], name: unique(`t3_merge/${name}/add`) },
      ],
    };
  }
  const ftName = unique(`${name}::t3_expert`);
  const ptScaled = unique(`${name}::t3_generalist_scaled`);
  const ftScaled = unique(`${name}::t3_expert_scaled`);
  return {
    initializers: [generalist, onnx.TensorProto.create({ ...ftTensor, name: ftName })],
    nodes: [
      { opType: 'Mul', input: [ptName, oneMinusLambda], output: [ptScaled], name: unique(`t3_merge/${name}/mul_generalist`) },
      { opType: 'Mul', input: [ftName, LAMBDA_INPUT_NAME], output: [ftScaled], name: unique(`t3_merge/${name}/mul_expert`) },
      { opType: 'Add', input: [ptScaled, ftScaled], output: [name], name: unique(`t3_merge/${name}/add`) },
    ],
  };
}

/** The merged graph's initializers and interpolation nodes, with the counts the summary reports. */
interface MergedWeights {
  initializers: onnx.ITensorProto[];
  lerpNodes: onnx.INodeProto[];
  mergedNames: Set<string>;
  sharedInitializers: number;
  sharedBytes: number;
  mergedBytesPerModel: number;
}

/** Equal initializers are kept once; each differing float32 one becomes an interpolation from λ. */
function mergeWeights(pt: DecodedGraph, ft: DecodedGraph, form: MergedGraphForm): MergedWeights {
  const unique = freshNameAllocator(pt);
  const ftByName = new Map(ft.initializer.map((t) => [t.name, t]));
  const weights: MergedWeights = { initializers: [], lerpNodes: [], mergedNames: new Set(), sharedInitializers: 0, sharedBytes: 0, mergedBytesPerModel: 0 };
  const oneName = unique('t3_merge/one');
  const oneMinusLambda = unique('t3_merge/one_minus_lambda');

  for (const ptTensor of pt.initializer) {
    const ftTensor = ftByName.get(ptTensor.name) as onnx.TensorProto;
    if (ptTensor.dataType !== ftTensor.dataType || dimsText(ptTensor) !== dimsText(ftTensor)) {
      throw new MergeError(`initializer "${ptTensor.name}" has type ${ptTensor.dataType} shape ${dimsText(ptTensor)} in the generalist but type ${ftTensor.dataType} shape ${dimsText(ftTensor)} in the expert`);
    }
    if (tensorsEqual(ptTensor, ftTensor)) {
      weights.initializers.push(ptTensor);
      weights.sharedInitializers++;
      weights.sharedBytes += tensorByteLength(ptTensor);
      continue;
    }
    if (ptTensor.dataType !== FLOAT) {
      throw new MergeError(`initializer "${ptTensor.name}" differs between the models but is not float32 (ONNX type ${ptTensor.dataType}); only float32 weights can be interpolated`);
    }
    const { initializers, nodes } = interpolatedWeight(ptTensor, ftTensor, form, unique, oneMinusLambda);
    weights.initializers.push(...initializers);
    weights.lerpNodes.push(...nodes);
    weights.mergedNames.add(ptTensor.name);
    weights.mergedBytesPerModel += tensorByteLength(ptTensor);
  }

  if (weights.mergedNames.size > 0 && form === 'lerp') {
    weights.initializers.push(onnx.TensorProto.create({ name: oneName, dataType: FLOAT, dims: [], floatData: [1] }));
    weights.lerpNodes.unshift({ opType: 'Sub', input: [oneName, LAMBDA_INPUT_NAME], output: [oneMinusLambda], name: unique('t3_merge/one_minus_lambda_sub') });
  }
  return weights;
}

/** The generalist's model with the merged weights, the interpolation nodes first and λ as one more graph input. */
function assembleMergedModel(ptModel: onnx.ModelProto, pt: DecodedGraph, weights: MergedWeights, form: MergedGraphForm): onnx.ModelProto {
  const lambdaInput = onnx.ValueInfoProto.create({
    name: LAMBDA_INPUT_NAME,
    docString: 'T3 interpolation coefficient: 0 = generalist, 1 = expert',
    type: { tensorType: { elemType: FLOAT, shape: { dim: [] } } },
  });
  // Old-IR models also list initializers as graph inputs; a merged weight is now a node output and must not be one.
  const inputs = pt.input.filter((v) => !weights.mergedNames.has(v.name ?? ''));
  return onnx.ModelProto.create({
    ...ptModel,
    producerName: 'orthanc-t3 build-merged',
    metadataProps: [
      ...ptModel.metadataProps,
      { key: 't3.merged_initializers', value: String(weights.mergedNames.size) },
      { key: 't3.shared_initializers', value: String(weights.sharedInitializers) },
      { key: 't3.merged_graph_form', value: form },
    ],
    graph: onnx.GraphProto.create({
      ...pt,
      node: [...weights.lerpNodes, ...pt.node],
      initializer: weights.initializers,
      input: [...inputs, lambdaInput],
    }),
  });
}

/**
 * Builds one ONNX model that computes both source models: every float initializer W that differs between them is
 * stored twice and recomputed in-graph from the scalar float graph input `lambda`, in the given form (lerp by default:
 * exact at λ=0 and λ=1); equal initializers are stored once. λ stays a graph input so ONNX Runtime cannot
 * constant-fold the interpolation into a third weight set.
 */
export function buildMergedModel(generalistBytes: Uint8Array, expertBytes: Uint8Array, form: MergedGraphForm = 'lerp'): MergedModel {
  const ptModel = decodeSourceModel(generalistBytes, 'generalist');
  const ftModel = decodeSourceModel(expertBytes, 'expert');
  // Decoded messages carry every field (defaults live on the prototype); the I* interfaces mark them optional.
  const pt = ptModel.graph as DecodedGraph;
  const ft = ftModel.graph as DecodedGraph;
  checkNoExternalData(pt, 'generalist');
  checkNoExternalData(ft, 'expert');
  const constantsMoved = moveConstantsToInitializers(pt);
  moveConstantsToInitializers(ft);
  checkSameStructure(pt, ft, ptModel, ftModel);

  const weights = mergeWeights(pt, ft, form);
  const bytes = onnx.ModelProto.encode(assembleMergedModel(ptModel, pt, weights, form)).finish();
  return {
    bytes,
    summary: {
      form,
      mergedInitializers: weights.mergedNames.size,
      sharedInitializers: weights.sharedInitializers,
      constantsMoved,
      mergedBytesPerModel: weights.mergedBytesPerModel,
      sharedBytes: weights.sharedBytes,
      outputBytes: bytes.length,
    },
  };
}
