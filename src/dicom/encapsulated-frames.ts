import { DicomError } from './errors';
import type { EncapsulatedPixelData } from './part10-structure';
import type { FrameEncoding } from './transfer-syntax';

/** Whether a fragment begins a new codestream, for regrouping fragments when the offset table is empty. */
function startsCodestream(fragment: Uint8Array, encoding: FrameEncoding): boolean {
  const b = fragment;
  switch (encoding) {
    case 'jpeg-baseline':
    case 'jpeg-lossless':
    case 'jpeg-ls':
      return b[0] === 0xff && b[1] === 0xd8;
    case 'jpeg-2000':
    case 'htj2k':
      return (b[0] === 0xff && b[1] === 0x4f && b[2] === 0xff && b[3] === 0x51) // raw codestream: SOC SIZ
        || (b[4] === 0x6a && b[5] === 0x50 && b[6] === 0x20 && b[7] === 0x20); // JP2 file signature box
    default:
      return false;
  }
}

/**
 * One frame's bytes as a fresh buffer of its own (transferable to a frame worker): its fragments joined. Only the
 * frames a frame policy selects are ever joined, so a 1000-frame object with one frame used copies one frame.
 */
export function joinFragments(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

function byOffsetTable(pixel: EncapsulatedPixelData, frames: number): Uint8Array[][] | undefined {
  const bot = pixel.basicOffsetTable;
  if (bot.length !== frames) return undefined;
  const groups: Uint8Array[][] = bot.map(() => []);
  let frame = -1;
  for (let i = 0; i < pixel.fragments.length; i++) {
    const offset = pixel.fragmentOffsets[i];
    while (frame + 1 < frames && bot[frame + 1] <= offset) {
      frame++;
      if (bot[frame] !== offset) return undefined; // an offset that is not a fragment start: table is wrong
    }
    if (frame < 0) return undefined;
    groups[frame].push(pixel.fragments[i]);
  }
  return groups.every((g) => g.length > 0) ? groups : undefined;
}

function byCodestreamStarts(pixel: EncapsulatedPixelData, frames: number, encoding: FrameEncoding): Uint8Array[][] | undefined {
  const groups: Uint8Array[][] = [];
  for (const fragment of pixel.fragments) {
    if (startsCodestream(fragment, encoding) || groups.length === 0) groups.push([fragment]);
    else groups[groups.length - 1].push(fragment);
  }
  return groups.length === frames ? groups : undefined;
}

/**
 * Regroups encapsulated fragments into frames (PS3.5 A.4): by the Basic Offset Table when it is filled and
 * consistent, else one fragment per frame when the counts agree, else by codestream start markers. Returns views
 * into the file, grouped per frame; nothing is copied (joinFragments copies the one frame that is decoded).
 */
export function encapsulatedFrameFragments(pixel: EncapsulatedPixelData, frames: number, encoding: FrameEncoding,
  source: string): Uint8Array[][] {
  const fragments = pixel.fragments;
  if (fragments.length === 0) throw new DicomError('pixel-length', 'encapsulated PixelData holds no fragments', source);
  let groups: Uint8Array[][] | undefined;
  if (frames === 1) groups = [fragments];
  else groups = byOffsetTable(pixel, frames)
    ?? (fragments.length === frames ? fragments.map((f) => [f]) : byCodestreamStarts(pixel, frames, encoding));
  if (!groups) {
    throw new DicomError('pixel-length', `${fragments.length} fragment(s) cannot be regrouped into ` +
      `NumberOfFrames ${frames} (Basic Offset Table has ${pixel.basicOffsetTable.length} entries)`, source);
  }
  return groups;
}
