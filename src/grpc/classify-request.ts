import * as grpc from '@grpc/grpc-js';
import type { FramePolicy } from '../dicom';
import type { PolicyName } from '../t3';
import type { ClassifyInput, ClassifyRequest } from '../pipeline';
import { POLICY_ENUM } from './proto-messages';
import { newPixelArrayContext, PixelArrayError, pixelArrayToDicom } from '../dicom';
import type { ClassifyRequest__Output } from './generated/t3/v1/ClassifyRequest';
import { CallError } from './status-mapping';

/** t3.v1.ClassifyRequest as the proto loader gives it (see PROTO_LOADER_OPTIONS). */
export type ClassifyRequestMessage = ClassifyRequest__Output;

export type BadImageMode = 'reject' | 'skip';

export interface ClassifyLimits {
  /** Most images one call may carry. */
  maxImagesPerCall: number;
}

const POLICY_BY_ENUM: Readonly<Record<string, PolicyName | null>> = {
  POLICY_UNSPECIFIED: null,
  ...Object.fromEntries(Object.entries(POLICY_ENUM).map(([name, value]) => [value, name as PolicyName])),
};

const MAX_NAME_LENGTH = 256;

function invalid(message: string): CallError {
  return new CallError(grpc.status.INVALID_ARGUMENT, message);
}

/** How an image is named in errors: its index, plus the caller's name when given (control characters removed). */
export function imageLabel(index: number, name: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = name.replace(/[\u0000-\u001f\u007f]/g, '?');
  return clean ? `image[${index}] "${clean}"` : `image[${index}]`;
}

function enumValue<T>(table: Readonly<Record<string, T>>, value: string | number, field: string): T {
  if (typeof value === 'string' && Object.prototype.hasOwnProperty.call(table, value)) return table[value];
  throw invalid(`${field}: unknown value ${JSON.stringify(value)}; expected one of ${Object.keys(table).join(', ')}`);
}

function frameChoice(frames: ClassifyRequestMessage['frames']): FramePolicy | null {
  if (!frames) return null;
  const modes: Record<string, FramePolicy | 'index' | null> = {
    MODE_UNSPECIFIED: null,
    MODE_FIRST: 'first',
    MODE_MIDDLE: 'middle',
    MODE_ALL: 'all',
    MODE_INDEX: 'index',
  };
  const mode = enumValue(modes, frames.mode, 'frames.mode');
  if (mode === 'index') return frames.index;
  if (frames.index !== 0) throw invalid('frames.index: only allowed with MODE_INDEX');
  return mode;
}

/**
 * Checks a ClassifyRequest and turns it into the backend's call: every image as DICOM Part 10 bytes (pixel arrays
 * wrapped), names defaulted to `image[i]`. Throws INVALID_ARGUMENT naming the field, or the image's index and name.
 */
export function parseClassifyRequest(
  request: ClassifyRequestMessage,
  limits: ClassifyLimits,
  signal: AbortSignal,
): { call: ClassifyRequest; badImages: BadImageMode } {
  const images = request.images ?? [];
  if (images.length === 0) throw invalid('images: at least one image is required');
  if (images.length > limits.maxImagesPerCall) {
    throw invalid(`images: ${images.length} images in one call; the limit is ${limits.maxImagesPerCall}`);
  }
  const policy = enumValue(POLICY_BY_ENUM, request.policy, 'policy');
  const wiseAlpha = request.wiseAlpha ?? null;
  if (wiseAlpha !== null && !(Number.isFinite(wiseAlpha) && wiseAlpha >= 0 && wiseAlpha <= 1)) {
    throw invalid(`wise_alpha: must be in [0, 1], got ${wiseAlpha}`);
  }
  const badImages = enumValue<BadImageMode>(
    { BAD_IMAGE_HANDLING_UNSPECIFIED: 'reject', BAD_IMAGE_HANDLING_REJECT: 'reject', BAD_IMAGE_HANDLING_SKIP: 'skip' },
    request.onBadImage,
    'on_bad_image',
  );
  const bundle = request.bundle.trim();
  if (bundle.length > MAX_NAME_LENGTH) throw invalid(`bundle: longer than ${MAX_NAME_LENGTH} characters`);

  let pixelContext: ReturnType<typeof newPixelArrayContext> | null = null;
  const converted: ClassifyInput[] = images.map((image, index) => {
    const label = imageLabel(index, image.name ?? '');
    if ((image.name ?? '').length > MAX_NAME_LENGTH) throw invalid(`image[${index}]: name longer than ${MAX_NAME_LENGTH} characters`);
    const name = image.name || `image[${index}]`;
    if (image.source === 'dicom' && image.dicom) {
      if (image.dicom.length === 0) throw invalid(`${label}: dicom is empty`);
      return { name, bytes: image.dicom };
    }
    if (image.source === 'pixels' && image.pixels) {
      pixelContext ??= newPixelArrayContext();
      try {
        return { name, bytes: pixelArrayToDicom(image.pixels, pixelContext, index) };
      } catch (err) {
        if (err instanceof PixelArrayError) throw invalid(`${label}: pixels: ${err.reason}`);
        throw err;
      }
    }
    throw invalid(`${label}: neither dicom bytes nor a pixel array was given`);
  });

  return {
    call: {
      images: converted,
      bundle: bundle === '' ? null : bundle,
      policy,
      wiseAlpha,
      frames: frameChoice(request.frames),
      includeSr: Boolean(request.includeSr),
      signal,
    },
    badImages,
  };
}
