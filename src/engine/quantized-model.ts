import { onnx } from 'onnx-proto';
import { CategorizedError } from '../errors';
import { moveConstantsToInitializers } from './merged-graph';
import { decodeOnnxModel, longToNumber } from './onnx-model-file';

/**
 * 8-bit copies of a model for T3B's estimation passes, in ONNX Runtime's dynamic quantization pattern: weights stored
 * int8 (symmetric, one scale per output channel, zero point 0), activations quantized at run time. ONNX Runtime's CPU
 * provider fuses `DynamicQuantizeLinear → MatMulInteger → Cast → Mul(scaleA·scaleB) [→ Add bias]` into one
 * DynamicQuantizeMatMul kernel (its MatMulIntegerToFloat and DynamicQuantizeMatMul fusions), which is what makes it
 * faster than the float MatMul; ConvInteger has no such fusion and loses the float Conv's NCHWc kernels, so
 * convolutions are quantized only on request (measured in docs/LAMBDA-ESTIMATORS.md).
 */

/** Bumped whenever the quantized graph's layout or rounding changes, so stale cache entries are never reused. */
export const QUANTIZER_VERSION = 1;

/** The model cannot be quantized (not ONNX, too old an opset, external weights): the bundle cannot run int8 estimation. */
export class QuantizeError extends CategorizedError {
  constructor(message: string) {
    super('failed-precondition', message);
  }
}

export interface QuantizeOptions {
  /** Quantize Conv weights too (ConvInteger); MatMul and Gemm weights always are. */
  conv: boolean;
}

export interface QuantizeSummary {
  conv: boolean;
  /** Nodes rewritten to integer kernels, by source operator. */
  matMuls: number;
  gemms: number;
  convs: number;
  /** DynamicQuantizeLinear nodes added (one per distinct activation tensor that feeds rewritten nodes). */
  activationQuantizers: number;
  /** Float32 bytes of the weights that became int8, and their int8 bytes. */
  floatWeightBytes: number;
  int8WeightBytes: number;
  /** Size of the quantized ONNX file. */
  outputBytes: number;
}

export interface QuantizedModel {
  bytes: Uint8Array;
  summary: QuantizeSummary;
}

const FLOAT: number = onnx.TensorProto.DataType.FLOAT;
const INT8: number = onnx.TensorProto.DataType.INT8;
/** ONNX's minimum opset for DynamicQuantizeLinear (MatMulInteger and ConvInteger need 10). */
const MIN_OPSET = 11;

type DecodedGraph = onnx.GraphProto & { node: onnx.NodeProto[]; initializer: onnx.TensorProto[]; input: onnx.ValueInfoProto[] };

/** The graph's initializers (decoded: every field present). */
function tensors(graph: DecodedGraph): onnx.TensorProto[] {
  return graph.initializer;
}

function floatValues(t: onnx.ITensorProto): Float32Array {
  // A copy: raw bytes sit at any offset of the decoded file, and a Float32Array needs 4-byte alignment.
  if (t.rawData && t.rawData.length > 0) return new Float32Array(Uint8Array.from(t.rawData).buffer);
  return Float32Array.from(t.floatData ?? []);
}

function dimsOf(t: onnx.ITensorProto): number[] {
  return (t.dims ?? []).map((d) => longToNumber(d as number));
}

function floatTensor(name: string, dims: number[], values: Float32Array): onnx.TensorProto {
  return onnx.TensorProto.create({ name, dataType: FLOAT, dims, rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) });
}

/**
 * Symmetric int8 quantization of `values` laid out as [channels × perChannel] when `channelMajor`, or
 * [perChannel × channels] otherwise: q = round(w / s) in [−127, 127] with s = max|w| / 127 per channel (1 when a
 * channel is all zeros). −128 is never used, so the quantization stays symmetric and the zero point 0 is exact.
 */
export function quantizeSymmetric(values: Float32Array, channels: number, channelMajor: boolean): { q: Int8Array; scales: Float32Array } {
  const per = values.length / channels;
  const max = new Float32Array(channels);
  // Row-major passes over the data in both layouts (a ViT-B/16 holds 85 M weights: strided access would dominate).
  for (let i = 0; i < values.length; i++) {
    const c = channelMajor ? Math.floor(i / per) : i % channels;
    const v = Math.abs(values[i]);
    if (!(v <= max[c])) max[c] = v;
  }
  const scales = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    if (!Number.isFinite(max[c])) throw new QuantizeError(`a weight holds a non-finite value in output channel ${c}`);
    scales[c] = max[c] > 0 ? max[c] / 127 : 1;
  }
  const q = new Int8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const c = channelMajor ? Math.floor(i / per) : i % channels;
    q[i] = Math.max(-127, Math.min(127, Math.round(values[i] / scales[c])));
  }
  return { q, scales };
}

/**
 * Folds `Transpose` nodes of 2-D float initializers into initializers holding the transposed weight, under the
 * Transpose's output name. Exporters that skip constant folding (scripts/demo-bundle keeps every weight a plain
 * initializer for merging) feed Linear layers as `MatMul(x, Transpose(W))`; ONNX Runtime folds that at load time,
 * and the quantizer needs the weight as an initializer to see it. Returns the names of the folded source weights.
 */
function foldWeightTransposes(graph: DecodedGraph): string[] {
  const initializers = new Map(tensors(graph).map((t) => [t.name, t]));
  const kept: onnx.NodeProto[] = [];
  const folded: string[] = [];
  for (const node of graph.node) {
    const source = node.opType === 'Transpose' && (node.domain ?? '') === '' && node.input.length === 1 && node.output.length === 1
      ? initializers.get(node.input[0]) : undefined;
    const perm = source ? (attribute(node, 'perm')?.ints ?? []).map((v) => longToNumber(v as number)) : [];
    if (source && source.dataType === FLOAT && dimsOf(source).length === 2 && (perm.length === 0 || (perm[0] === 1 && perm[1] === 0))) {
      const [rows, cols] = dimsOf(source);
      const values = floatValues(source);
      const transposed = new Float32Array(values.length);
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) transposed[c * rows + r] = values[r * cols + c];
      const tensor = floatTensor(node.output[0], [cols, rows], transposed);
      graph.initializer.push(tensor);
      initializers.set(tensor.name, tensor);
      folded.push(source.name);
    } else {
      kept.push(node);
    }
  }
  graph.node = kept;
  return folded;
}

function attribute(node: onnx.INodeProto, name: string): onnx.IAttributeProto | undefined {
  return (node.attribute ?? []).find((a) => a.name === name);
}

/** Names read by the nodes (and their subgraphs) and the outputs of a graph. */
function namesRead(nodes: readonly onnx.INodeProto[], outputs: readonly onnx.IValueInfoProto[]): Set<string> {
  const read = new Set<string>(outputs.map((o) => o.name ?? ''));
  const collect = (list: readonly onnx.INodeProto[]) => {
    for (const n of list) {
      for (const i of n.input ?? []) read.add(i);
      for (const at of n.attribute ?? []) {
        if (at.g) collect(at.g.node ?? []);
        for (const sub of at.graphs ?? []) collect(sub.node ?? []);
      }
    }
  };
  collect(nodes);
  return read;
}

const CONV_ATTRIBUTES = ['auto_pad', 'dilations', 'group', 'kernel_shape', 'pads', 'strides'];

/**
 * Rewrites one decoded graph node by node (its state: the new node list, the tensors added, the weights replaced).
 * Each rewritten node becomes `DynamicQuantizeLinear(x)` (shared by every node reading x) → `MatMulInteger` or
 * `ConvInteger` with the int8 weight and zero point 0 → `Cast` → `Mul(scaleX · scaleW)` [→ `Add(bias)`], under the
 * node's own output name.
 */
class GraphRewriter {
  readonly nodes: onnx.INodeProto[] = [];
  readonly added: onnx.TensorProto[] = [];
  /** Float weights (and biases) replaced by new tensors; removed at the end unless a node left in float still reads them. */
  readonly replaced: Set<string>;
  readonly summary: QuantizeSummary;
  private readonly initializers: Map<string, onnx.TensorProto>;
  private readonly used = new Set<string>();
  private readonly activations = new Map<string, { q: string; scale: string; zeroPoint: string }>();
  private readonly int8Zero: string;
  private int8ZeroUsed = false;

  constructor(private readonly graph: DecodedGraph, private readonly options: QuantizeOptions, replaced: readonly string[]) {
    this.initializers = new Map(tensors(graph).map((t) => [t.name, t]));
    for (const v of [...graph.input, ...graph.output]) this.used.add(v.name ?? '');
    for (const t of tensors(graph)) this.used.add(t.name);
    for (const n of graph.node) for (const o of n.output) this.used.add(o);
    this.replaced = new Set(replaced);
    this.summary = { conv: options.conv, matMuls: 0, gemms: 0, convs: 0, activationQuantizers: 0, floatWeightBytes: 0, int8WeightBytes: 0, outputBytes: 0 };
    this.int8Zero = this.unique('t3_quant/int8_zero');
  }

  /** Every node in order: rewritten where it can be, else kept. */
  run(): void {
    for (const node of this.graph.node) {
      const data = node.input[0];
      const rewritable = (node.domain ?? '') === '' && data !== undefined && data !== '' && !this.initializers.has(data);
      const done = rewritable && ((node.opType === 'MatMul' && this.matMul(node)) || (node.opType === 'Gemm' && this.gemm(node))
        || (node.opType === 'Conv' && this.options.conv && this.conv(node)));
      if (!done) this.nodes.push(node);
    }
    if (this.int8ZeroUsed) this.added.push(onnx.TensorProto.create({ name: this.int8Zero, dataType: INT8, dims: [], rawData: new Uint8Array([0]) }));
  }

  private unique(base: string): string {
    let name = base;
    for (let i = 1; this.used.has(name); i++) name = `${base}_${i}`;
    this.used.add(name);
    return name;
  }

  private floatInitializer(name: string | undefined, rank: (r: number) => boolean): onnx.TensorProto | null {
    const t = name ? this.initializers.get(name) : undefined;
    return t && t.dataType === FLOAT && rank(dimsOf(t).length) ? t : null;
  }

  /** The bias input: null when the node has none, undefined when it has one the rewrite cannot take (not a float initializer). */
  private bias(node: onnx.NodeProto): onnx.TensorProto | null | undefined {
    if (!node.input[2]) return null;
    return this.floatInitializer(node.input[2], () => true) ?? undefined;
  }

  /** One DynamicQuantizeLinear per activation tensor, placed before its first reader (nodes keep topological order). */
  private quantizeActivation(input: string): { q: string; scale: string; zeroPoint: string } {
    const known = this.activations.get(input);
    if (known) return known;
    const out = { q: this.unique(`${input}::t3_q`), scale: this.unique(`${input}::t3_scale`), zeroPoint: this.unique(`${input}::t3_zero_point`) };
    this.nodes.push({ opType: 'DynamicQuantizeLinear', input: [input], output: [out.q, out.scale, out.zeroPoint], name: this.unique(`t3_quant/${input}/dql`) });
    this.activations.set(input, out);
    this.summary.activationQuantizers++;
    return out;
  }

  /**
   * The integer node on `node`'s input and the int8 copy of its weight, then Cast · (scaleX · scaleW) [+ bias] into the
   * node's output: the tail ONNX Runtime's MatMulIntegerToFloat fusion looks for.
   */
  private emit(node: onnx.NodeProto, integerOp: 'MatMulInteger' | 'ConvInteger', weight: onnx.TensorProto, q: { dims: number[]; values: Int8Array },
    scale: { dims: number[]; values: Float32Array }, bias: { source: onnx.TensorProto; dims: number[]; values: Float32Array } | null): void {
    const label = this.unique(`t3_quant/${node.name || node.output[0]}`);
    const a = this.quantizeActivation(node.input[0]);
    const weightName = this.unique(`${weight.name}::t3_int8`);
    this.added.push(onnx.TensorProto.create({ name: weightName, dataType: INT8, dims: q.dims, rawData: new Uint8Array(q.values.buffer, q.values.byteOffset, q.values.byteLength) }));
    this.replaced.add(weight.name);
    this.summary.floatWeightBytes += q.values.length * 4;
    this.summary.int8WeightBytes += q.values.length;
    const scaleName = this.unique(`${weight.name}::t3_scale`);
    this.added.push(floatTensor(scaleName, scale.dims, scale.values));
    this.int8ZeroUsed = true;
    const integer = this.unique(`${label}/int32`);
    const attribute = integerOp === 'ConvInteger' ? (node.attribute ?? []).filter((at) => CONV_ATTRIBUTES.includes(at.name ?? '')) : [];
    const asFloat = this.unique(`${label}/float`);
    const scaleProduct = this.unique(`${label}/scale`);
    const output = node.output[0];
    const scaled = bias ? this.unique(`${label}/scaled`) : output;
    this.nodes.push(
      { opType: integerOp, input: [a.q, weightName, a.zeroPoint, this.int8Zero], output: [integer], name: this.unique(`${label}/integer`), attribute },
      { opType: 'Cast', input: [integer], output: [asFloat], name: this.unique(`${label}/cast`), attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: FLOAT }] },
      { opType: 'Mul', input: [a.scale, scaleName], output: [scaleProduct], name: this.unique(`${label}/scale_mul`) },
      { opType: 'Mul', input: [asFloat, scaleProduct], output: [scaled], name: this.unique(`${label}/output_mul`) },
    );
    if (bias) {
      const biasName = this.unique(`${bias.source.name}::t3_bias`);
      this.added.push(floatTensor(biasName, bias.dims, bias.values));
      this.replaced.add(bias.source.name);
      this.nodes.push({ opType: 'Add', input: [scaled, biasName], output: [output], name: this.unique(`${label}/bias_add`) });
    }
  }

  /** MatMul(x, W[K, N]): one scale per output column. */
  private matMul(node: onnx.NodeProto): boolean {
    const weight = this.floatInitializer(node.input[1], (r) => r === 2);
    if (!weight) return false;
    const [k, n] = dimsOf(weight);
    const { q, scales } = quantizeSymmetric(floatValues(weight), n, false);
    this.emit(node, 'MatMulInteger', weight, { dims: [k, n], values: q }, { dims: [n], values: scales }, null);
    this.summary.matMuls++;
    return true;
  }

  /** Gemm(x, W, C) without transA: alpha folds into the scales, beta into the bias; a transB weight is stored as [K, N]. */
  private gemm(node: onnx.NodeProto): boolean {
    const weight = this.floatInitializer(node.input[1], (r) => r === 2);
    const bias = this.bias(node);
    if (!weight || bias === undefined || longToNumber(attribute(node, 'transA')?.i) !== 0) return false;
    const transB = longToNumber(attribute(node, 'transB')?.i) === 1;
    const alpha = attribute(node, 'alpha')?.f ?? 1;
    const beta = attribute(node, 'beta')?.f ?? 1;
    const dims = dimsOf(weight);
    const [k, n] = transB ? [dims[1], dims[0]] : dims;
    const values = floatValues(weight);
    // MatMulInteger reads B as [K, N]: a transposed Gemm weight ([N, K]) is stored transposed once here.
    const kn = transB ? new Float32Array(values.length) : values;
    if (transB) for (let r = 0; r < n; r++) for (let c = 0; c < k; c++) kn[c * n + r] = values[r * k + c];
    const { q, scales } = quantizeSymmetric(kn, n, false);
    if (bias && beta === 0) this.replaced.add(bias.name);
    const scaledBias = bias && beta !== 0 ? { source: bias, dims: dimsOf(bias), values: floatValues(bias).map((v) => v * beta) } : null;
    this.emit(node, 'MatMulInteger', weight, { dims: [k, n], values: q }, { dims: [n], values: scales.map((s) => s * alpha) }, scaledBias);
    this.summary.gemms++;
    return true;
  }

  /** Conv(x, W[M, C/group, k…], B): one scale per output channel, broadcast over [N, M, spatial…]. */
  private conv(node: onnx.NodeProto): boolean {
    const weight = this.floatInitializer(node.input[1], (r) => r >= 3);
    const bias = this.bias(node);
    if (!weight || bias === undefined) return false;
    const dims = dimsOf(weight);
    const channels = dims[0];
    const { q, scales } = quantizeSymmetric(floatValues(weight), channels, true);
    const channelShape = [1, channels, ...dims.slice(2).map(() => 1)];
    this.emit(node, 'ConvInteger', weight, { dims, values: q }, { dims: channelShape, values: scales },
      bias ? { source: bias, dims: channelShape, values: floatValues(bias) } : null);
    this.summary.convs++;
    return true;
  }
}

/** The decoded model, checked: an opset with DynamicQuantizeLinear and every weight inside the file. */
function decodeForQuantizing(modelBytes: Uint8Array): onnx.ModelProto {
  let model: onnx.ModelProto;
  try {
    model = decodeOnnxModel(modelBytes);
  } catch (error) {
    throw new QuantizeError((error as Error).message);
  }
  const opset = model.opsetImport.find((o) => (o.domain ?? '') === '' || o.domain === 'ai.onnx');
  const opsetVersion = opset ? longToNumber(opset.version) : 0;
  if (opsetVersion < MIN_OPSET) throw new QuantizeError(`the model imports ONNX opset ${opsetVersion}; dynamic quantization needs opset ${MIN_OPSET} or later`);
  for (const t of tensors(model.graph as DecodedGraph)) {
    if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL || t.externalData.length > 0) {
      throw new QuantizeError(`initializer "${t.name}" keeps its data in an external file, which the quantizer does not read; save the model with its weights inside`);
    }
  }
  return model;
}

/**
 * Rewrites every MatMul and Gemm (and Conv when `options.conv`) whose weight is a float32 initializer into the
 * dynamic-quantization pattern. Nodes inside subgraphs, weights with non-float types and Gemms with transA are left
 * in float. The model's inputs, outputs and output names are unchanged.
 */
export function buildQuantizedModel(modelBytes: Uint8Array, options: QuantizeOptions): QuantizedModel {
  const model = decodeForQuantizing(modelBytes);
  const graph = model.graph as DecodedGraph;
  moveConstantsToInitializers(graph);
  const rewriter = new GraphRewriter(graph, options, foldWeightTransposes(graph));
  rewriter.run();
  // A replaced float weight stays only where a node left in float (or a subgraph) still reads it.
  const read = namesRead(rewriter.nodes, graph.output);
  const dropped = new Set([...rewriter.replaced].filter((name) => !read.has(name)));
  const summary = rewriter.summary;
  const quantized = onnx.ModelProto.create({
    ...model,
    producerName: 'orthanc-t3 quantize',
    metadataProps: [
      ...model.metadataProps,
      { key: 't3.quantizer_version', value: String(QUANTIZER_VERSION) },
      { key: 't3.quantized_nodes', value: String(summary.matMuls + summary.gemms + summary.convs) },
    ],
    graph: onnx.GraphProto.create({
      ...graph,
      node: rewriter.nodes,
      initializer: [...tensors(graph).filter((t) => !dropped.has(t.name)), ...rewriter.added],
      // Old-IR models also list initializers as graph inputs; a dropped weight must not stay one.
      input: graph.input.filter((v) => !dropped.has(v.name ?? '')),
    }),
  });
  const bytes = onnx.ModelProto.encode(quantized).finish();
  summary.outputBytes = bytes.length;
  return { bytes, summary };
}
