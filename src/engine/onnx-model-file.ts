import { onnx } from 'onnx-proto';

/** Why a byte string is not a usable ONNX model, or null when it is one. */
export function describeNotAnOnnxModel(model: onnx.ModelProto | null, decodeError: unknown): string | null {
  if (decodeError) return `not an ONNX model (protobuf decoding failed: ${(decodeError as Error).message})`;
  if (!model) return 'not an ONNX model';
  if (!model.graph) return 'not an ONNX model (no graph)';
  if ((model.graph.node ?? []).length === 0) return 'not an ONNX model (graph has no nodes)';
  if (model.opsetImport.length === 0) return 'not an ONNX model (no opset import)';
  return null;
}

/** Decodes an ONNX ModelProto, throwing an Error that says why the bytes are not a model. */
export function decodeOnnxModel(bytes: Uint8Array): onnx.ModelProto {
  let model: onnx.ModelProto | null = null;
  let failure: unknown = null;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (error) {
    failure = error;
  }
  const problem = describeNotAnOnnxModel(model, failure);
  if (problem) throw new Error(problem);
  return model as onnx.ModelProto;
}

/** Static dimensions of a graph input (or output) as numbers (null for symbolic or missing ones), or null if no such input. */
export function graphInputDims(model: onnx.ModelProto, name: string, kind: 'input' | 'output' = 'input'): (number | null)[] | null {
  const input = (model.graph?.[kind] ?? []).find((i) => i.name === name);
  const dims = input?.type?.tensorType?.shape?.dim;
  if (!input || !dims) return null;
  return (dims as onnx.TensorShapeProto.Dimension[]).map((d) => (d.value === 'dimValue' ? longToNumber(d.dimValue) : null));
}

/** protobufjs decodes int64 fields as Long objects when long.js is present, as numbers otherwise. */
export function longToNumber(value: number | { toNumber(): number } | null | undefined): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'number' ? value : value.toNumber();
}
