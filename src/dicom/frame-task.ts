import { decodeCompressedFrame, UnsupportedFrameError } from './codecs';
import { toModelTensor } from './model-input';
import type { PixelLayout } from './pixel-layout';
import type { RawFrame } from './raw-frame';
import { renderToUnit } from './render';
import type { RenderPlan } from './render-plan';
import { decodeRleFrame } from './rle';
import { toStoredValues, type StoredValues } from './stored-values';
import type { FrameEncoding } from './transfer-syntax';
import type { ModelInputSpec } from './types';

/** One frame's work, sent to a frame worker: decode, and when `render` is given, preprocess to a tensor. */
export interface FrameTask {
  encoding: FrameEncoding;
  transferSyntaxUid: string;
  /** Compressed frame bytes (encapsulated syntaxes) … */
  compressed?: Uint8Array;
  /** … or the native frame already cut out and made little-endian. */
  native?: RawFrame;
  layout: PixelLayout;
  render?: { plan: RenderPlan; spec: ModelInputSpec };
}

export type FrameOutcome =
  | { ok: true; photometricInterpretation: string; samples?: StoredValues; tensor?: Float32Array }
  | { ok: false; failure: 'unsupported' | 'codec'; message: string };

async function rawFrame(task: FrameTask): Promise<RawFrame> {
  if (task.native) return task.native;
  if (!task.compressed) throw new Error('frame task carries no pixel bytes');
  if (task.encoding === 'rle') return decodeRleFrame(task.compressed, task.layout);
  return decodeCompressedFrame(task.encoding, task.compressed, task.layout, task.transferSyntaxUid);
}

/** Runs a frame task; never throws (failures come back as values so a worker can post them). */
export async function runFrameTask(task: FrameTask): Promise<FrameOutcome> {
  try {
    const raw = await rawFrame(task);
    const samples = toStoredValues(raw, task.layout);
    // Native YBR_FULL_422 is expanded to full YBR by toStoredValues.
    const photometricInterpretation = raw.photometricInterpretation === 'YBR_FULL_422' && raw.subsampled422
      ? 'YBR_FULL' : raw.photometricInterpretation;
    if (!task.render) return { ok: true, photometricInterpretation, samples };
    const unit = renderToUnit(samples, task.layout, photometricInterpretation, task.render.plan);
    return { ok: true, photometricInterpretation, tensor: toModelTensor(unit, task.render.spec) };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { ok: false, failure: error instanceof UnsupportedFrameError ? 'unsupported' : 'codec', message };
  }
}
