/** A lookup table as the LUT Descriptor defines it (PS3.3 C.11.1.1.1): input values from firstMapped up. */
export interface LookupTable {
  firstMapped: number;
  /** Bits per entry from the descriptor; entries range over 0 … 2^bits - 1. */
  bits: number;
  data: number[];
}

/** Looks a value up, clamping below the first and above the last entry as the standard prescribes. */
export function lookUp(lut: LookupTable, value: number): number {
  let index = Math.round(value) - lut.firstMapped;
  if (index < 0) index = 0;
  else if (index >= lut.data.length) index = lut.data.length - 1;
  return lut.data[index];
}

/** LUT Data / palette words from a dcmjs value: a number array (US) or ArrayBuffer(s) (OW), in file byte order. */
export function lutWords(value: unknown, littleEndian: boolean, entries: number, bits: number): number[] | undefined {
  if (value === undefined || value === null) return undefined;
  const items = Array.isArray(value) ? value : [value];
  if (items.length === 0) return undefined;
  if (items.every((v) => typeof v === 'number')) return items;
  const buffers = items.filter((v): v is ArrayBuffer | ArrayBufferView => v instanceof ArrayBuffer || ArrayBuffer.isView(v));
  if (buffers.length === 0) return undefined;
  const parts = buffers.map((b) => (b instanceof ArrayBuffer ? new Uint8Array(b) : new Uint8Array(b.buffer, b.byteOffset, b.byteLength)));
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { bytes.set(p, at); at += p.length; }
  // Some writers pack 8-bit entries two to a word (PS3.3 C.7.6.3.1.6 permits it for palettes).
  if (bits === 8 && bytes.length === entries + (entries % 2)) return Array.from(bytes.subarray(0, entries));
  const view = new DataView(bytes.buffer);
  const words: number[] = [];
  for (let i = 0; i + 1 < bytes.length; i += 2) words.push(view.getUint16(i, littleEndian));
  return words;
}

/** Reads a LUT Descriptor (entries, first mapped value, bits); 0 entries means 65536. */
export function lutDescriptor(value: unknown, signedInput: boolean): { entries: number; firstMapped: number; bits: number } | undefined {
  const raw = Array.isArray(value) ? value.map(Number) : undefined;
  if (!raw || raw.length < 3 || raw.some((v) => !Number.isFinite(v))) return undefined;
  const entries = raw[0] === 0 ? 65536 : raw[0];
  // The first mapped value is US or SS depending on PixelRepresentation; dcmjs may read it either way.
  let firstMapped = raw[1];
  if (signedInput && firstMapped > 32767) firstMapped -= 65536;
  return { entries, firstMapped, bits: raw[2] };
}

/**
 * Expands Segmented Palette Color LUT Data (PS3.3 C.7.9.2): discrete (0), linear (1) and indirect (2) segments.
 */
export function expandSegmentedLut(words: number[], entries: number): number[] {
  const out: number[] = [];
  const run = (start: number, stop: number, depth: number): void => {
    if (depth > 8) throw new Error('segmented palette: indirect segments nest too deep');
    let pos = start;
    while (pos + 1 < stop && out.length < entries) {
      const opcode = words[pos];
      const length = words[pos + 1];
      if (opcode === 0) {
        for (let i = 0; i < length; i++) out.push(words[pos + 2 + i] ?? 0);
        pos += 2 + length;
      } else if (opcode === 1) {
        const from = out.length > 0 ? out[out.length - 1] : 0;
        const to = words[pos + 2] ?? 0;
        for (let i = 1; i <= length; i++) out.push(Math.round(from + ((to - from) * i) / length));
        pos += 3;
      } else if (opcode === 2) {
        const offset = (words[pos + 2] ?? 0) + (words[pos + 3] ?? 0) * 65536;
        // Copy `length` segments starting at word `offset` by re-running them.
        let segmentPos = offset;
        for (let s = 0; s < length && segmentPos < words.length; s++) {
          const next = segmentEnd(words, segmentPos);
          run(segmentPos, next, depth + 1);
          segmentPos = next;
        }
        pos += 4;
      } else {
        throw new Error(`segmented palette: unknown segment opcode ${opcode}`);
      }
    }
  };
  run(0, words.length, 0);
  if (out.length < entries) throw new Error(`segmented palette expands to ${out.length} entries, ${entries} expected`);
  return out.slice(0, entries);
}

function segmentEnd(words: number[], pos: number): number {
  const opcode = words[pos];
  if (opcode === 0) return pos + 2 + words[pos + 1];
  if (opcode === 1) return pos + 3;
  return pos + 4;
}
