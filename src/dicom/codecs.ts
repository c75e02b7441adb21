import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { PixelLayout } from './pixel-layout';
import { singleFramePart10 } from './single-frame-part10';
import type { RawFrame } from './raw-frame';
import type { FrameEncoding } from './transfer-syntax';

/**
 * The compressed-frame decoders: Cornerstone's Emscripten builds of libjpeg-turbo, CharLS, OpenJPEG and
 * OpenJPH (the `/decodewasmjs` entries: the package mains are pure-JS builds 8× slower), and the scoped
 * jpeg-lossless-decoder-js. Loaded lazily, once per thread; meant to run inside a frame worker.
 */

interface FrameInfo { width: number; height: number; bitsPerSample: number; componentCount: number; isSigned?: boolean; }
interface WasmDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  decode(): void;
  getFrameInfo(): FrameInfo;
  getDecodedBuffer(): Uint8Array;
  getInterleaveMode?(): number;
  delete(): void;
}
interface WasmModule { [className: string]: unknown; getExceptionMessage?: (pointer: number) => string; }
type WasmFactory = (options: Record<string, unknown>) => Promise<WasmModule>;

type WasmCodec = 'libjpeg-turbo' | 'charls' | 'openjpeg' | 'openjph';
const WASM_CODECS: Record<WasmCodec, { entry: string; className: string }> = {
  'libjpeg-turbo': { entry: '@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs', className: 'JPEGDecoder' },
  charls: { entry: '@cornerstonejs/codec-charls/decodewasmjs', className: 'JpegLSDecoder' },
  openjpeg: { entry: '@cornerstonejs/codec-openjpeg/decodewasmjs', className: 'J2KDecoder' },
  openjph: { entry: '@cornerstonejs/codec-openjph/wasmjs', className: 'HTJ2KDecoder' },
};

const loaded = new Map<WasmCodec, Promise<WasmModule>>();

function loadWasm(codec: WasmCodec): Promise<WasmModule> {
  let module = loaded.get(codec);
  if (!module) {
    const factory = require(WASM_CODECS[codec].entry) as WasmFactory;
    // OpenJPEG prints three lines per decode to stdout; silence every codec.
    module = factory({ print: () => undefined, printErr: () => undefined });
    loaded.set(codec, module);
  }
  return module;
}

function describeThrown(error: unknown, module: WasmModule): string {
  if (typeof error === 'number') {
    // Emscripten throws C++ exceptions as bare pointers; CharLS can translate them.
    try {
      if (module.getExceptionMessage) return module.getExceptionMessage(error);
    } catch {
      /* fall through to the number */
    }
    return `native exception ${error}`;
  }
  return error instanceof Error ? error.message : String(error);
}

async function decodeWasm(codec: WasmCodec, frame: Uint8Array, layout: PixelLayout, photometric: string): Promise<RawFrame> {
  const module = await loadWasm(codec);
  const Decoder = module[WASM_CODECS[codec].className] as new () => WasmDecoder;
  const decoder = new Decoder();
  try {
    decoder.getEncodedBuffer(frame.length).set(frame);
    try {
      decoder.decode();
    } catch (error) {
      throw new Error(`${codec} failed: ${describeThrown(error, module)}`);
    }
    const info = decoder.getFrameInfo();
    checkFrameInfo(codec, info, layout);
    const bytesPerSample = info.bitsPerSample <= 8 ? 1 : 2;
    const expected = info.width * info.height * info.componentCount * bytesPerSample;
    const decoded = decoder.getDecodedBuffer();
    if (decoded.length < expected) throw new Error(`${codec} returned ${decoded.length} bytes, ${expected} expected (partial image)`);
    const planar = codec === 'charls' && info.componentCount > 1 && decoder.getInterleaveMode?.() === 0;
    // The decoded buffer is a view into the WASM heap: copy before delete() frees it.
    return { bytes: decoded.slice(0, expected), bytesPerSample, planar, photometricInterpretation: photometric };
  } finally {
    decoder.delete();
  }
}

function checkFrameInfo(codec: string, info: FrameInfo, layout: PixelLayout): void {
  // OpenJPEG and OpenJPH return empty or partial images without throwing: the header is the reference.
  const problems: string[] = [];
  if (info.width !== layout.columns || info.height !== layout.rows) {
    problems.push(`size ${info.width}×${info.height}, header says ${layout.columns}×${layout.rows}`);
  }
  if (info.componentCount !== layout.samplesPerPixel) {
    problems.push(`${info.componentCount} component(s), header says SamplesPerPixel ${layout.samplesPerPixel}`);
  }
  if (!(info.bitsPerSample >= 1 && info.bitsPerSample <= layout.bitsAllocated)) {
    problems.push(`${info.bitsPerSample} bits per sample, header says BitsAllocated ${layout.bitsAllocated}`);
  }
  if (problems.length > 0) throw new Error(`${codec} frame does not match the header: ${problems.join('; ')}`);
}

interface LosslessDecoder {
  decode(buffer: ArrayBuffer, offset: number, length: number, numBytes: number): Uint8Array | Uint16Array;
  xDim: number; yDim: number; numComp: number;
}

function decodeJpegLossless(frame: Uint8Array, layout: PixelLayout): RawFrame {
  const { Decoder } = require('@cornerstonejs/jpeg-lossless-decoder-js') as { Decoder: new () => LosslessDecoder };
  const decoder = new Decoder();
  const bytesPerSample = layout.bitsAllocated <= 8 ? 1 : 2;
  const copy = new Uint8Array(frame); // a real copy: frame may be a Buffer view whose .slice() shares memory
  const out = decoder.decode(copy.buffer, 0, copy.length, bytesPerSample);
  checkFrameInfo('jpeg-lossless-decoder-js',
    { width: decoder.xDim, height: decoder.yDim, componentCount: decoder.numComp, bitsPerSample: layout.bitsStored }, layout);
  const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  const expected = layout.rows * layout.columns * layout.samplesPerPixel * bytesPerSample;
  if (bytes.length < expected) throw new Error(`jpeg-lossless-decoder-js returned ${bytes.length} bytes, ${expected} expected`);
  return { bytes: bytes.slice(0, expected), bytesPerSample, planar: false, photometricInterpretation: layout.photometricInterpretation };
}

interface ItkImage { size: number[]; data: ArrayLike<number> & { BYTES_PER_ELEMENT: number }; imageType: { components: number } }
interface ItkModule {
  InterfaceTypes: { Image: string; JsonCompatible: string; BinaryFile: string };
  runPipelineNode(pipelinePath: string, args: string[], outputs: { type: string }[], inputs: { type: string; data: unknown }[]):
    Promise<{ returnValue: number; stderr: string; outputs: { data: unknown }[] }>;
}

// itk-wasm is ESM only; TypeScript would compile a plain import() of it into require().
const importEsm = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<unknown>;
let itk: Promise<ItkModule> | undefined;

/**
 * 12-bit JPEG (Extended, process 4) through GDCM compiled to WebAssembly (@itk-wasm/dicom): no 12-bit
 * libjpeg build exists on npm. The frame is wrapped in a minimal single-frame file and handed over in memory
 * (the pipeline's virtual file system), so GDCM returns stored values with nothing applied.
 */
async function decodeJpeg12(frame: Uint8Array, layout: PixelLayout, transferSyntaxUid: string, photometric: string): Promise<RawFrame> {
  itk ??= importEsm(pathToFileURL(require.resolve('itk-wasm')).href) as Promise<ItkModule>;
  const { InterfaceTypes, runPipelineNode } = await itk;
  const pipeline = path.join(path.dirname(require.resolve('@itk-wasm/dicom')), 'pipelines', 'read-image-dicom-file-series');
  const file = singleFramePart10(frame, layout, transferSyntaxUid);
  // GDCM first tries its 8-bit JPEG codec and says so on stdout before falling back to the 12-bit one; the
  // module bound console.log when it loaded, so the thread's own streams are muted for the call (this runs in
  // a frame worker, whose output nobody else shares).
  const writeOut = process.stdout.write;
  const writeErr = process.stderr.write;
  let result: Awaited<ReturnType<ItkModule['runPipelineNode']>>;
  try {
    process.stdout.write = () => true;
    process.stderr.write = () => true;
    result = await runPipelineNode(pipeline, ['0', '1', '--memory-io', '--input-images', 'frame.dcm'],
      [{ type: InterfaceTypes.Image }, { type: InterfaceTypes.JsonCompatible }],
      [{ type: InterfaceTypes.BinaryFile, data: { path: 'frame.dcm', data: file } }]);
  } finally {
    process.stdout.write = writeOut;
    process.stderr.write = writeErr;
  }
  const image = result.outputs[0]?.data as ItkImage | undefined;
  if (result.returnValue !== 0 || !image) throw new Error(`GDCM (itk-wasm) failed: ${result.stderr.trim() || `status ${result.returnValue}`}`);
  checkFrameInfo('GDCM (itk-wasm)', { width: image.size[0], height: image.size[1], componentCount: image.imageType.components,
    bitsPerSample: layout.bitsStored }, layout);
  const count = layout.rows * layout.columns * layout.samplesPerPixel;
  const data = image.data as unknown as Int16Array | Uint16Array | Int32Array;
  if (data.length < count) throw new Error(`GDCM (itk-wasm) returned ${data.length} samples, ${count} expected`);
  const bytes = new Uint8Array(count * 2);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < count; i++) view.setUint16(2 * i, data[i] & 0xffff, true);
  return { bytes, bytesPerSample: 2, planar: false, photometricInterpretation: photometric };
}

/** SOF precision of a JPEG stream (8 or 12 for DCT processes), or undefined when no SOF is found. */
export function jpegPrecision(frame: Uint8Array): number | undefined {
  let pos = 2;
  while (pos + 4 < frame.length) {
    if (frame[pos] !== 0xff) { pos++; continue; }
    const marker = frame[pos + 1];
    if (marker === 0xff) { pos++; continue; }
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return pos + 4 < frame.length ? frame[pos + 4] : undefined;
    }
    const length = (frame[pos + 2] << 8) | frame[pos + 3];
    pos += 2 + length;
  }
  return undefined;
}

/**
 * Makes libjpeg-turbo keep the components of a JPEG whose DICOM header says RGB. libjpeg-turbo treats any
 * 3-component stream with a JFIF marker (or without an Adobe marker and component ids 1,2,3) as YCbCr and
 * converts it; dcmtk and GDCM instead follow PhotometricInterpretation RGB and convert nothing. Renaming APP0
 * (JFIF) to APP15 and adding an Adobe APP14 marker with transform 0 gives libjpeg-turbo the same reading.
 */
export function declareRgbComponents(frame: Uint8Array): Uint8Array {
  if (frame[0] !== 0xff || frame[1] !== 0xd8) return frame;
  const out = new Uint8Array(frame);
  let hasAdobe = false;
  let pos = 2;
  while (pos + 4 <= out.length && out[pos] === 0xff) {
    const marker = out[pos + 1];
    if (marker === 0xda || marker === 0xd9) break; // start of scan / end of image
    const length = (out[pos + 2] << 8) | out[pos + 3];
    const id = Buffer.from(out.subarray(pos + 4, pos + 9)).toString('latin1');
    if (marker === 0xe0 && id === 'JFIF\0') out[pos + 1] = 0xef;
    if (marker === 0xee && id === 'Adobe') hasAdobe = true;
    pos += 2 + length;
  }
  if (hasAdobe) return out;
  const adobe = Uint8Array.from([0xff, 0xee, 0x00, 0x0e, 0x41, 0x64, 0x6f, 0x62, 0x65, 0x00, 0x64, 0, 0, 0, 0, 0x00]);
  const patched = new Uint8Array(out.length + adobe.length);
  patched.set(out.subarray(0, 2), 0);
  patched.set(adobe, 2);
  patched.set(out.subarray(2), 2 + adobe.length);
  return patched;
}

/** Photometric interpretation of the samples a codec returns (PS3.5 8.2: what "as the codec leaves them" means). */
export function decodedPhotometric(encoding: FrameEncoding, layout: PixelLayout): string {
  const pi = layout.photometricInterpretation;
  // libjpeg-turbo always converts YCbCr to RGB; OpenJPEG/OpenJPH undo the RCT/ICT component transform.
  if (encoding === 'jpeg-baseline' && layout.samplesPerPixel === 3) return 'RGB';
  if (pi === 'YBR_RCT' || pi === 'YBR_ICT') return 'RGB';
  return pi;
}

export class UnsupportedFrameError extends Error {}

/** Decodes one compressed frame into raw sample words. Throws Error (codec failure) or UnsupportedFrameError. */
export async function decodeCompressedFrame(encoding: FrameEncoding, frame: Uint8Array, layout: PixelLayout,
  transferSyntaxUid: string): Promise<RawFrame> {
  const photometric = decodedPhotometric(encoding, layout);
  switch (encoding) {
    case 'jpeg-baseline': {
      const precision = jpegPrecision(frame);
      if (precision === 12) return decodeJpeg12(frame, layout, transferSyntaxUid, photometric);
      if (precision !== undefined && precision > 8) {
        throw new UnsupportedFrameError(`JPEG with ${precision}-bit samples is not a DICOM JPEG process (8 or 12 bits)`);
      }
      const declaredRgb = layout.samplesPerPixel === 3 && layout.photometricInterpretation === 'RGB';
      return decodeWasm('libjpeg-turbo', declaredRgb ? declareRgbComponents(frame) : frame, layout, photometric);
    }
    case 'jpeg-lossless':
      return decodeJpegLossless(frame, layout);
    case 'jpeg-ls':
      return decodeWasm('charls', frame, layout, photometric);
    case 'jpeg-2000':
      return decodeWasm('openjpeg', frame, layout, photometric);
    case 'htj2k':
      return decodeWasm('openjph', frame, layout, photometric);
    default:
      throw new UnsupportedFrameError(`no compressed-frame decoder for encoding ${encoding}`);
  }
}
