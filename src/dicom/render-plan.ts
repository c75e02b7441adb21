import { DicomError } from './errors';
import { expandSegmentedLut, lutDescriptor, lutWords, type LookupTable } from './lut';
import type { PixelLayout } from './pixel-layout';
import type { VoiFallback } from './types';

export type ModalityTransform =
  | { kind: 'rescale'; slope: number; intercept: number }
  | { kind: 'lut'; lut: LookupTable };

export type VoiFunction = 'LINEAR' | 'LINEAR_EXACT' | 'SIGMOID';

export type VoiTransform =
  | { kind: 'window'; center: number; width: number; fn: VoiFunction; from: 'file' | 'fallback' }
  | { kind: 'lut'; lut: LookupTable }
  | { kind: 'minmax' };

export interface PaletteTables { red: LookupTable; green: LookupTable; blue: LookupTable; }

/** Everything between stored values and display values [0,1] for one frame (PS3.4 N.2 pipeline). */
export interface RenderPlan {
  modality: ModalityTransform;
  voi: VoiTransform;
  palette?: PaletteTables;
  /** MONOCHROME1: minimum is white, so display values are inverted after VOI. */
  invert: boolean;
  /** Stored value marking padding (outside the body), left out of the min–max fallback. */
  pixelPaddingValue?: number;
}

type Dataset = Record<string, unknown>;

function first(value: unknown): unknown {
  return Array.isArray(value) ? value[0] : value;
}

function finite(value: unknown): number | undefined {
  const v = first(value);
  if (v === undefined || v === null || v === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

function item(value: unknown): Dataset | undefined {
  const v = first(value);
  return v && typeof v === 'object' && !(v instanceof ArrayBuffer) ? (v as Dataset) : undefined;
}

/** Enhanced multi-frame objects keep per-frame values in functional groups (PS3.3 C.7.6.16). */
function functionalGroup(header: Dataset, frameIndex: number, sequence: string): Dataset | undefined {
  const perFrame = header.PerFrameFunctionalGroupsSequence;
  const frameItem = Array.isArray(perFrame) ? item(perFrame[frameIndex]) : undefined;
  return item(frameItem?.[sequence]) ?? item(item(header.SharedFunctionalGroupsSequence)?.[sequence]);
}

function readLut(lutItem: Dataset, signedInput: boolean, littleEndian: boolean): LookupTable | undefined {
  const descriptor = lutDescriptor(lutItem.LUTDescriptor, signedInput);
  if (!descriptor) return undefined;
  const data = lutWords(lutItem.LUTData, littleEndian, descriptor.entries, descriptor.bits);
  if (!data || data.length < descriptor.entries) return undefined;
  return { firstMapped: descriptor.firstMapped, bits: descriptor.bits, data: data.slice(0, descriptor.entries) };
}

function modalityTransform(header: Dataset, layout: PixelLayout, frameIndex: number, littleEndian: boolean): ModalityTransform {
  const lutItem = item(header.ModalityLUTSequence);
  if (lutItem) {
    const lut = readLut(lutItem, layout.signed, littleEndian);
    if (lut) return { kind: 'lut', lut };
  }
  const group = functionalGroup(header, frameIndex, 'PixelValueTransformationSequence') ?? header;
  const slope = finite(group.RescaleSlope) ?? finite(header.RescaleSlope) ?? 1;
  const intercept = finite(group.RescaleIntercept) ?? finite(header.RescaleIntercept) ?? 0;
  return { kind: 'rescale', slope: slope === 0 ? 1 : slope, intercept };
}

function voiTransform(header: Dataset, frameIndex: number, littleEndian: boolean, fallback: VoiFallback,
  modality: ModalityTransform, layout: PixelLayout): VoiTransform {
  const group = functionalGroup(header, frameIndex, 'FrameVOILUTSequence') ?? header;
  const center = finite(group.WindowCenter);
  const width = finite(group.WindowWidth);
  const fnValue = first(group.VOILUTFunction);
  const fnText = (typeof fnValue === 'string' ? fnValue : 'LINEAR').trim().toUpperCase();
  const fn: VoiFunction = fnText === 'LINEAR_EXACT' || fnText === 'SIGMOID' ? fnText : 'LINEAR';
  if (center !== undefined && width !== undefined && width > 0 && (fn !== 'LINEAR' || width >= 1)) {
    return { kind: 'window', center, width, fn, from: 'file' };
  }
  const voiLutItem = item(header.VOILUTSequence);
  if (voiLutItem) {
    // The VOI LUT's input is the modality output: signed whenever the modality LUT can go negative.
    const signedInput = layout.signed || (modality.kind === 'rescale' && modality.intercept < 0);
    const lut = readLut(voiLutItem, signedInput, littleEndian);
    if (lut) return { kind: 'lut', lut };
  }
  if (fallback === 'minmax') return { kind: 'minmax' };
  return { kind: 'window', center: fallback.center, width: fallback.width, fn: 'LINEAR', from: 'fallback' };
}

function paletteTable(header: Dataset, colour: 'Red' | 'Green' | 'Blue', littleEndian: boolean, source: string): LookupTable {
  const descriptor = lutDescriptor(header[`${colour}PaletteColorLookupTableDescriptor`], false);
  if (!descriptor) {
    throw new DicomError('unsupported-photometric', `PALETTE COLOR without a usable ${colour} palette descriptor`, source);
  }
  const segmented = header[`Segmented${colour}PaletteColorLookupTableData`];
  let data: number[] | undefined;
  if (segmented !== undefined) {
    const words = lutWords(segmented, littleEndian, 0, 16);
    try {
      data = words && expandSegmentedLut(words, descriptor.entries);
    } catch (error) {
      throw new DicomError('unsupported-photometric', `${colour} ${(error as Error).message}`, source);
    }
  } else {
    data = lutWords(header[`${colour}PaletteColorLookupTableData`], littleEndian, descriptor.entries, descriptor.bits);
  }
  if (!data || data.length < descriptor.entries) {
    throw new DicomError('unsupported-photometric', `PALETTE COLOR ${colour} table has ${data?.length ?? 0} entries, ` +
      `descriptor says ${descriptor.entries}`, source);
  }
  return { firstMapped: descriptor.firstMapped, bits: descriptor.bits, data: data.slice(0, descriptor.entries) };
}

/** Resolves the rendering of one frame from the header (frameIndex is 0-based). */
export function resolveRenderPlan(header: Dataset, layout: PixelLayout, frameIndex: number, littleEndian: boolean,
  fallback: VoiFallback, source: string): RenderPlan {
  let pixelPaddingValue = finite(header.PixelPaddingValue);
  // In Implicit VR the US-or-SS padding value is read as US by dcmjs: bring it back into the signed range.
  if (pixelPaddingValue !== undefined && layout.signed && pixelPaddingValue >= 2 ** (layout.bitsStored - 1)) {
    pixelPaddingValue -= 2 ** Math.max(16, layout.bitsStored);
  }
  if (layout.photometricInterpretation === 'PALETTE COLOR') {
    return { modality: { kind: 'rescale', slope: 1, intercept: 0 }, voi: { kind: 'minmax' }, invert: false,
      palette: { red: paletteTable(header, 'Red', littleEndian, source), green: paletteTable(header, 'Green', littleEndian, source),
        blue: paletteTable(header, 'Blue', littleEndian, source) } };
  }
  const modality = modalityTransform(header, layout, frameIndex, littleEndian);
  return {
    modality,
    voi: voiTransform(header, frameIndex, littleEndian, fallback, modality, layout),
    invert: layout.photometricInterpretation === 'MONOCHROME1',
    pixelPaddingValue,
  };
}
