import { dcmjs, DicomError, EXPLICIT_VR_LITTLE_ENDIAN, selectFrames, writePart10, type FramePolicy } from '../dicom';
import { OrthancClient } from './orthanc-client';

/** A PAM image (netpbm P7) as Orthanc returns it: samples big-endian when maxval > 255. */
export interface PamImage {
  width: number;
  height: number;
  depth: number;
  maxval: number;
  /** Samples in row-major, interleaved order, as unsigned integers. */
  samples: Uint16Array | Uint8Array;
}

export class PamError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PamError';
  }
}

export function parsePam(bytes: Uint8Array): PamImage {
  const end = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).indexOf('ENDHDR\n');
  if (end < 0 || bytes[0] !== 0x50 || bytes[1] !== 0x37) throw new PamError('not a PAM image (no P7 header)');
  const header = Buffer.from(bytes.buffer, bytes.byteOffset, end).toString('ascii');
  const field = (name: string): number => {
    const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(header);
    if (!m) throw new PamError(`PAM header has no ${name}`);
    return Number(m[1]);
  };
  const width = field('WIDTH');
  const height = field('HEIGHT');
  const depth = field('DEPTH');
  const maxval = field('MAXVAL');
  const count = width * height * depth;
  const data = bytes.subarray(end + 7);
  if (maxval > 255) {
    if (data.length < count * 2) throw new PamError(`PAM data holds ${data.length} bytes, ${count * 2} expected`);
    const samples = new Uint16Array(count);
    for (let i = 0; i < count; i++) samples[i] = (data[2 * i] << 8) | data[2 * i + 1];
    return { width, height, depth, maxval, samples };
  }
  if (data.length < count) throw new PamError(`PAM data holds ${data.length} bytes, ${count} expected`);
  return { width, height, depth, maxval, samples: data.slice(0, count) };
}

const PAM = 'image/x-portable-arbitrarymap';
const PALETTE_TAGS = ['00281101', '00281102', '00281103', '00281199', '00281201', '00281202', '00281203', '00281221', '00281222', '00281223'];

function firstText(dict: Record<string, { Value?: unknown[] }>, tag: string): string | undefined {
  const v = dict[tag]?.Value?.[0];
  return typeof v === 'string' ? v.replace(/\0/g, '').trim() : undefined;
}

function firstNumber(dict: Record<string, { Value?: unknown[] }>, tag: string, fallback: number): number {
  const v = dict[tag]?.Value?.[0];
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) ? n : fallback;
}

/**
 * The instance as an uncompressed Explicit VR Little Endian Part 10 file whose pixels Orthanc decoded: grey frames from
 * /frames/{n}/image-int16 (or -uint16 for unsigned data; stored values, no rescale or window), colour and palette
 * frames from /frames/{n}/preview (8-bit RGB). Only the frames `framePolicy` selects are fetched; the others are
 * left zero, so the local frame selection picks the same frames. The header (modality LUT, VOI…) is the stored one.
 */
export async function orthancDecodedInstance(client: OrthancClient, instanceId: string, framePolicy: FramePolicy,
  maxDecodedImageBytes: number): Promise<Uint8Array> {
  const id = encodeURIComponent(instanceId);
  const file = await client.instanceFile(instanceId);
  const buffer = file.buffer.slice(file.byteOffset, file.byteOffset + file.byteLength) as ArrayBuffer;
  const parsed = dcmjs.data.DicomMessage.readFile(buffer, { untilTag: '7FE00010', includeUntilTagValue: false });
  const dict = parsed.dict as Record<string, { vr: string; Value: unknown[] }>;
  const rows = firstNumber(dict, '00280010', 0);
  const columns = firstNumber(dict, '00280011', 0);
  const frames = firstNumber(dict, '00280008', 1);
  const samplesPerPixel = firstNumber(dict, '00280002', 1);
  const pixelRepresentation = firstNumber(dict, '00280103', 0);
  const bitsStored = firstNumber(dict, '00280101', 16);
  const photometric = firstText(dict, '00280004') ?? '';
  const colour = samplesPerPixel !== 1 || photometric === 'PALETTE COLOR';
  const chosen = selectFrames(framePolicy, frames, instanceId);
  const frameSamples = rows * columns * (colour ? 3 : 1);
  const bytesPerSample = colour ? 1 : 2;
  // The rebuilt file holds every frame (the unused ones zero, so frame numbers stay those of the source): its size is
  // what this path allocates, and it is refused before Orthanc is asked to decode a "bomb" of a header.
  const rebuiltBytes = frames * frameSamples * bytesPerSample;
  if (!(rebuiltBytes <= maxDecodedImageBytes)) {
    throw new DicomError('image-too-large', `${frames} frame(s) of ${columns}×${rows} × ${colour ? 3 : 1} sample(s) decoded by Orthanc ` +
      `= ${rebuiltBytes} bytes, over the limit of ${maxDecodedImageBytes} bytes (inference.maxDecodedImageBytes)`, instanceId);
  }
  const pixels = new Uint8Array(rebuiltBytes);
  for (const index of chosen) {
    const route = colour ? 'preview' : pixelRepresentation === 1 ? 'image-int16' : 'image-uint16';
    const pam = parsePam(await client.getBytes(`/instances/${id}/frames/${index}/${route}`, PAM));
    if (pam.width !== columns || pam.height !== rows || pam.depth !== (colour ? 3 : 1)) {
      throw new PamError(`Orthanc decoded frame ${index} of ${instanceId} as ${pam.width}x${pam.height}x${pam.depth}, header says ${columns}x${rows}x${colour ? 3 : 1}`);
    }
    const offset = index * frameSamples * bytesPerSample;
    if (colour) {
      pixels.set(pam.samples, offset);
    } else {
      // PAM carries the 16-bit pattern (two's complement for int16); write it little-endian.
      const view = new DataView(pixels.buffer, offset, frameSamples * 2);
      for (let i = 0; i < frameSamples; i++) view.setUint16(2 * i, pam.samples[i], true);
    }
  }
  if (colour) {
    parsed.upsertTag('00280002', 'US', [3]);
    parsed.upsertTag('00280004', 'CS', ['RGB']);
    parsed.upsertTag('00280006', 'US', [0]);
    parsed.upsertTag('00280100', 'US', [8]);
    parsed.upsertTag('00280101', 'US', [8]);
    parsed.upsertTag('00280102', 'US', [7]);
    parsed.upsertTag('00280103', 'US', [0]);
    for (const tag of PALETTE_TAGS) delete dict[tag];
  } else {
    const stored = Math.min(16, Math.max(1, bitsStored));
    parsed.upsertTag('00280100', 'US', [16]);
    parsed.upsertTag('00280101', 'US', [stored]);
    parsed.upsertTag('00280102', 'US', [stored - 1]);
  }
  dict['7FE00010'] = { vr: colour ? 'OB' : 'OW', Value: [pixels.buffer] };
  // Headers as stored (e.g. old-style dates "1994.01.30") are kept as they are, as the local path reads them.
  return writePart10({
    transferSyntaxUid: EXPLICIT_VR_LITTLE_ENDIAN,
    sopClassUid: firstText(dict, '00080016'),
    sopInstanceUid: firstText(dict, '00080018'),
  }, dict, { allowInvalidVRLength: true });
}
