import { onnx } from 'onnx-proto';
import { decodeOnnxModel } from '../src/engine';

/** float32 view of a tensor's weights (copied when the protobuf slice is not 4-byte aligned). */
function floats(t: onnx.ITensorProto): Float32Array {
  if (t.rawData && t.rawData.length > 0) {
    const raw = t.rawData;
    if (raw.byteOffset % 4 === 0) return new Float32Array(raw.buffer, raw.byteOffset, raw.length / 4);
    return new Float32Array(new Uint8Array(raw).buffer); // a copy: Buffer.slice would share the whole file
  }
  return Float32Array.from(t.floatData ?? []);
}

/**
 * The naive alternative to the merged graph, kept only for the benchmark: a model whose weights are
 * (1−λ)·W_pt + λ·W_ft baked in, so a new ONNX Runtime session must be created for every λ.
 */
export class LambdaBaker {
  private readonly pt: onnx.ModelProto;
  private readonly ftByName: Map<string, onnx.ITensorProto>;

  constructor(generalist: Uint8Array, expert: Uint8Array) {
    this.pt = decodeOnnxModel(generalist);
    const ft = decodeOnnxModel(expert);
    this.ftByName = new Map((ft.graph?.initializer ?? []).map((t) => [t.name ?? '', t]));
  }

  bake(lambda: number): Uint8Array {
    const a = Math.fround(1 - lambda);
    const b = Math.fround(lambda);
    const initializer = (this.pt.graph?.initializer ?? []).map((t) => {
      const other = this.ftByName.get(t.name ?? '');
      if (!other || t.dataType !== onnx.TensorProto.DataType.FLOAT) return t;
      const x = floats(t);
      const y = floats(other);
      const out = new Float32Array(x.length);
      for (let i = 0; i < x.length; i++) out[i] = a * x[i] + b * y[i];
      return onnx.TensorProto.create({ ...t, floatData: [], rawData: new Uint8Array(out.buffer) });
    });
    const model = onnx.ModelProto.create({ ...this.pt, graph: onnx.GraphProto.create({ ...this.pt.graph, initializer }) });
    return onnx.ModelProto.encode(model).finish();
  }
}
