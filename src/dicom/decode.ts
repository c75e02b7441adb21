import { DEFAULT_MAX_DECODED_IMAGE_BYTES, refuseOversizedImage } from './decoded-size';
import { DicomError } from './errors';
import { encapsulatedFrameFragments, joinFragments } from './encapsulated-frames';
import { sharedFramePool, FrameTimeoutError } from './frame-pool';
import type { FrameOutcome, FrameTask } from './frame-task';
import { validateModelInputSpec } from './model-input';
import { nativeFrame } from './native-frames';
import { readPixelLayout, type PixelLayout } from './pixel-layout';
import { isImageObject, parseDicom, type ParsedDicom } from './read-info';
import { nonImageKind } from './sop-classes';
import { resolveRenderPlan } from './render-plan';
import type { StoredValues } from './stored-values';
import { findTransferSyntax, type TransferSyntax } from './transfer-syntax';
import type { DicomInstanceInfo, FramePolicy, LoadModelInputsOptions, ModelInputFrame, ModelInputSpec } from './types';

const DEFAULT_FRAME_TIMEOUT_MS = 10_000;

/** Stored values of one decoded frame, colour-by-pixel, as the codec left the colour space. */
export interface DecodedFrame {
  /** 1-based. */
  frameNumber: number;
  rows: number;
  columns: number;
  samplesPerPixel: number;
  /** Colour space of `samples` (e.g. RGB after libjpeg-turbo's YCbCr conversion, YBR_FULL after RLE). */
  photometricInterpretation: string;
  samples: StoredValues;
}

export interface DecodeFramesOptions {
  framePolicy?: FramePolicy;
  source?: string;
  frameTimeoutMs?: number;
  /** Refuse (image-too-large) when the selected frames declare more decoded bytes; default 256 MiB. */
  maxDecodedImageBytes?: number;
}

/**
 * Arrays posted back by a worker are built by the main Node realm's constructors; under a sandbox such as
 * jest's, `instanceof Float32Array` (which onnxruntime's Tensor relies on) would then fail. A new view over the
 * same buffer, made with this realm's constructor, costs nothing and fixes that.
 */
function inThisRealm<T extends Float32Array | Int32Array | Uint32Array>(array: T): T {
  const tag = Object.prototype.toString.call(array);
  const Ctor = tag === '[object Float32Array]' ? Float32Array : tag === '[object Uint32Array]' ? Uint32Array : Int32Array;
  return new Ctor(array.buffer as ArrayBuffer, array.byteOffset, array.length) as T;
}

/** 0-based indices of the frames a policy selects ('middle' of an even count is the earlier of the two). */
export function selectFrames(policy: FramePolicy, numberOfFrames: number, source: string): number[] {
  if (policy === 'first') return [0];
  if (policy === 'middle') return [Math.floor((numberOfFrames - 1) / 2)];
  if (policy === 'all') return Array.from({ length: numberOfFrames }, (_, i) => i);
  if (typeof policy === 'number' && Number.isInteger(policy) && policy >= 0 && policy < numberOfFrames) return [policy];
  throw new DicomError('bad-frame-index', `frame policy ${JSON.stringify(policy)} does not select one of the ` +
    `${numberOfFrames} frame(s) (0-based index, 'first', 'middle' or 'all')`, source);
}

interface PreparedImage {
  parsed: ParsedDicom;
  layout: PixelLayout;
  syntax: TransferSyntax;
  /** 0-based indices of the frames the policy selects, already checked against the decoded-size limit. */
  indices: number[];
  /** Builds the task for one 0-based frame (pixel bytes only; rendering is added by the caller). */
  frameTask(index: number): { task: FrameTask; transfer: ArrayBuffer[] };
}

/**
 * Reads the header and checks everything that can be checked before decoding, the declared decoded size
 * included; pixel bytes are copied later, one selected frame at a time.
 */
function prepare(bytes: Uint8Array, source: string | undefined, framePolicy: FramePolicy,
  maxDecodedImageBytes: number): PreparedImage {
  const parsed = parseDicom(bytes, source);
  const { info, structure } = parsed;
  const name = parsed.source;
  const kind = nonImageKind(info.sopClassUid);
  if (kind !== undefined) {
    throw new DicomError('not-an-image', `${kind} (SOP Class ${info.sopClassUid}) holds no image to classify`, name);
  }
  if (!structure.pixelData) {
    throw new DicomError('no-pixel-data', structure.floatPixelData
      ? 'holds Float/Double Float Pixel Data (a parametric map), which is not rendered'
      : `no PixelData element (SOP Class ${info.sopClassUid || 'missing'})`, name);
  }
  const verdict = isImageObject(info);
  if (!verdict.image) throw new DicomError('no-pixel-data', verdict.reason, name);
  const syntax = findTransferSyntax(info.transferSyntaxUid);
  if (!syntax) {
    throw new DicomError('unsupported-transfer-syntax', `transfer syntax ${info.transferSyntaxUid || '(empty)'} is not supported`, name);
  }
  const layout = readPixelLayout(info.header, name);
  const indices = selectFrames(framePolicy, layout.numberOfFrames, name);
  refuseOversizedImage(layout, indices.length, maxDecodedImageBytes, name);
  const pixel = structure.pixelData;
  if ((syntax.encoding === 'native') !== (pixel.native !== undefined)) {
    throw new DicomError('pixel-length', `PixelData is ${pixel.native ? 'native' : 'encapsulated'} but the transfer ` +
      `syntax ${syntax.name} says otherwise`, name);
  }
  let frames: Uint8Array[][] | undefined;
  return {
    parsed, layout, syntax, indices,
    frameTask(index) {
      if (pixel.native) {
        const raw = nativeFrame(pixel.native, pixel.vr, syntax.littleEndian, layout, index, name);
        return { task: { encoding: 'native', transferSyntaxUid: syntax.uid, native: raw, layout },
          transfer: [raw.bytes.buffer as ArrayBuffer] };
      }
      frames ??= encapsulatedFrameFragments(pixel.encapsulated!, layout.numberOfFrames, syntax.encoding, name);
      const compressed = joinFragments(frames[index]); // a copy of its own, transferable to the worker
      return { task: { encoding: syntax.encoding, transferSyntaxUid: syntax.uid, compressed, layout },
        transfer: [compressed.buffer as ArrayBuffer] };
    },
  };
}

function outcomeError(error: unknown, frameNumber: number, syntax: TransferSyntax, name: string): DicomError {
  if (error instanceof DicomError) return error;
  if (error instanceof FrameTimeoutError) {
    return new DicomError('codec-timeout', `frame ${frameNumber} (${syntax.name}): ${error.message}`, name);
  }
  return new DicomError('codec-failure', `frame ${frameNumber} (${syntax.name}): ${(error as Error).message}`, name);
}

/**
 * Runs the frame tasks through the shared pool, at most as many at once as the pool has workers: a frame's bytes
 * are copied out of the file only when it is about to run, so the `all` policy on a long multi-frame object never
 * holds a copy of every frame at once. The first failure stops the frames not yet started and is thrown.
 */
async function runFrames<T>(prepared: PreparedImage, indices: number[], timeoutMs: number,
  withTask: (task: FrameTask, index: number) => FrameTask, take: (outcome: Extract<FrameOutcome, { ok: true }>, index: number) => T): Promise<T[]> {
  const { syntax, parsed } = prepared;
  const name = parsed.source;
  const pool = sharedFramePool();
  const one = async (index: number): Promise<T> => {
    const { task, transfer } = prepared.frameTask(index);
    let outcome: FrameOutcome;
    try {
      outcome = await pool.run(withTask(task, index), timeoutMs, transfer);
    } catch (error) {
      throw outcomeError(error, index + 1, syntax, name);
    }
    if (!outcome.ok) {
      if (outcome.failure === 'unsupported') throw new DicomError('unsupported-transfer-syntax', outcome.message, name);
      throw new DicomError('codec-failure', `frame ${index + 1} (${syntax.name}): ${outcome.message}`, name);
    }
    return take(outcome, index);
  };
  const results = new Array<T>(indices.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const lane = async (): Promise<void> => {
    while (!failure && next < indices.length) {
      const at = next++;
      try {
        results[at] = await one(indices[at]);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(pool.size, indices.length) }, lane));
  if (failure) throw outcomeError(failure.error, 0, syntax, name);
  return results;
}

/**
 * Decodes the chosen frames to stored values (BitsStored/HighBit/sign applied), in worker threads.
 * Meant for checks against reference decoders and for callers that render pixels themselves.
 */
export async function decodeFrames(bytes: Uint8Array, options: DecodeFramesOptions = {}):
  Promise<{ info: DicomInstanceInfo; layout: PixelLayout; transferSyntax: TransferSyntax; frames: DecodedFrame[] }> {
  const prepared = prepare(bytes, options.source, options.framePolicy ?? 'all',
    options.maxDecodedImageBytes ?? DEFAULT_MAX_DECODED_IMAGE_BYTES);
  const { layout, indices } = prepared;
  const frames = await runFrames(prepared, indices, options.frameTimeoutMs ?? DEFAULT_FRAME_TIMEOUT_MS, (t) => t,
    (outcome, index) => ({ frameNumber: index + 1, rows: layout.rows, columns: layout.columns,
      samplesPerPixel: layout.samplesPerPixel, photometricInterpretation: outcome.photometricInterpretation,
      samples: inThisRealm(outcome.samples as StoredValues) }));
  return { info: prepared.parsed.info, layout, transferSyntax: prepared.syntax, frames };
}

/** Decodes the chosen frames and preprocesses them (async: codecs run in worker threads with a timeout). */
export async function loadModelInputs(bytes: Uint8Array, spec: ModelInputSpec, options: LoadModelInputsOptions):
  Promise<{ info: DicomInstanceInfo; frames: ModelInputFrame[] }> {
  validateModelInputSpec(spec);
  const prepared = prepare(bytes, options.source, options.framePolicy,
    options.maxDecodedImageBytes ?? DEFAULT_MAX_DECODED_IMAGE_BYTES);
  const { layout, parsed, syntax, indices } = prepared;
  const name = parsed.source;
  const fallback = options.voiFallback ?? 'minmax';
  const plans = indices.map((index) => resolveRenderPlan(parsed.info.header, layout, index, syntax.littleEndian, fallback, name));
  const frames = await runFrames(prepared, indices, options.frameTimeoutMs ?? DEFAULT_FRAME_TIMEOUT_MS,
    (task, index) => ({ ...task, render: { plan: plans[indices.indexOf(index)], spec } }),
    (outcome, index) => ({ frameNumber: index + 1, tensor: inThisRealm(outcome.tensor as Float32Array) }));
  return { info: parsed.info, frames };
}
