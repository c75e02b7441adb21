#!/usr/bin/env bash
# Regenerates the small synthetic DICOM fixtures in test/fixtures/dicom/ with dcmtk, GDCM and the OpenJPH
# encoder shipped in @cornerstonejs/codec-openjph. The pixels are synthetic (gradients plus a deterministic
# pseudo-random texture): no patient data. Run from anywhere: bash scripts/make-dicom-fixtures.sh
# Needs: dcmtk (dump2dcm dcmcjpeg dcmcjpls dcmcrle dcmconv), libgdcm-tools (gdcmconv), node.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
out="$repo/test/fixtures/dicom"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
cd "$work"

# Raw little-endian pixel data for each synthetic source image.
node - <<'JS'
const fs = require('fs');
let seed = 12345;
const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
function write(name, rows, cols, frames, spp, bytes, value) {
  const buf = Buffer.alloc(rows * cols * frames * spp * bytes);
  let i = 0;
  for (let f = 0; f < frames; f++) for (let y = 0; y < rows; y++) for (let x = 0; x < cols; x++)
    for (let s = 0; s < spp; s++, i++) {
      const v = value(f, y, x, s);
      if (bytes === 1) buf.writeUInt8(v, i); else buf.writeUInt16LE(v & 0xffff, 2 * i);
    }
  fs.writeFileSync(name, buf);
}
// CT-like: 12 bits stored, signed, values -1024..2047, 3 frames.
write('ct12s.raw', 48, 64, 3, 1, 2, (f, y, x) => Math.round(-1024 + (x * 40 + y * 17 + f * 200) % 3000 + rand() * 60) & 0xfff);
// 16-bit unsigned, full range.
write('mr16u.raw', 40, 56, 2, 1, 2, (f, y, x) => Math.floor(x * 1100 + y * 700 + f * 5000 + rand() * 3000) % 65536);
// 8-bit grey, 4 frames (MONOCHROME1 source).
write('xa8.raw', 48, 64, 4, 1, 1, (f, y, x) => Math.round(Math.floor(x * 3 + y * 2 + f * 30 + rand() * 20) % 256));
// 8-bit RGB, 2 frames, colour-by-pixel.
write('rgb8.raw', 32, 48, 2, 3, 1, (f, y, x, s) => Math.floor((s === 0 ? x * 5 : s === 1 ? y * 7 : (x + y) * 3) + f * 40 + rand() * 10) % 256);
// 8-bit palette indices, 1 frame.
write('pal8.raw', 32, 32, 1, 1, 1, (f, y, x) => (x * 8 + y) % 256);
// Palette LUT data (16-bit entries, 256 entries).
const lut = (fn) => { const b = Buffer.alloc(512); for (let i = 0; i < 256; i++) b.writeUInt16LE(fn(i), 2 * i); return b; };
fs.writeFileSync('red.raw', lut((i) => i * 257));
fs.writeFileSync('green.raw', lut((i) => (255 - i) * 257));
fs.writeFileSync('blue.raw', lut((i) => (i * 2 % 256) * 257));
// Segmented palette (PS3.3 C.7.9.2): discrete 2 entries, linear ramp to 255 over 254 entries.
const seg = (words) => { const b = Buffer.alloc(words.length * 2); words.forEach((w, i) => b.writeUInt16LE(w, 2 * i)); return b; };
fs.writeFileSync('segred.raw', seg([0, 2, 0, 0, 1, 254, 65535]));
fs.writeFileSync('seggreen.raw', seg([0, 1, 65535, 1, 255, 0]));
fs.writeFileSync('segblue.raw', seg([0, 256, ...Array.from({ length: 256 }, (_, i) => (i * 2 % 256) * 257)]));
// Modality LUT (256 entries, 16 bits) and VOI LUT (4096 entries, 8 bits) tables.
fs.writeFileSync('mlut.raw', lut((i) => i * 10));
const voi = Buffer.alloc(8192); for (let i = 0; i < 4096; i++) voi.writeUInt16LE(Math.min(255, i >> 3), 2 * i);
fs.writeFileSync('voilut.raw', voi);
JS

common() { # $1 SOP class, $2 modality, $3 series number
  cat <<DUMP
(0008,0016) UI =$1
(0008,0018) UI 2.25.$RANDOM$RANDOM$RANDOM
(0008,0060) CS [$2]
(0010,0010) PN [Fixture^Synthetic]
(0010,0020) LO [FIXTURE-1]
(0020,000d) UI 2.25.1101
(0020,000e) UI 2.25.1101$3
(0020,0011) IS [$3]
DUMP
}
pixel() { # rows cols frames spp bitsAlloc bitsStored signed photometric raw
  cat <<DUMP
(0028,0002) US $4
(0028,0004) CS [$8]
$( [ "$3" -gt 1 ] && echo "(0028,0008) IS [$3]" )
$( [ "$4" -gt 1 ] && echo "(0028,0006) US 0" )
(0028,0010) US $1
(0028,0011) US $2
(0028,0100) US $5
(0028,0101) US $6
(0028,0102) US $(($6 - 1))
(0028,0103) US $7
(7fe0,0010) $( [ "$5" -eq 8 ] && echo OB || echo OW ) =$9
DUMP
}
{ common CTImageStorage CT 1; echo '(0028,1050) DS [40\400]'; echo '(0028,1051) DS [400\1500]'
  echo '(0028,1052) DS [-1024]'; echo '(0028,1053) DS [1]'; pixel 48 64 3 1 16 12 1 MONOCHROME2 ct12s.raw; } > ct.dump
{ common MRImageStorage MR 2; pixel 40 56 2 1 16 16 0 MONOCHROME2 mr16u.raw; } > mr.dump
{ common XRayAngiographicImageStorage XA 3; pixel 48 64 4 1 8 8 0 MONOCHROME1 xa8.raw; } > xa.dump
{ common SecondaryCaptureImageStorage OT 4; pixel 32 48 2 3 8 8 0 RGB rgb8.raw; } > rgb.dump
{ common SecondaryCaptureImageStorage OT 5
  echo '(0028,1101) US 256\0\16'; echo '(0028,1102) US 256\0\16'; echo '(0028,1103) US 256\0\16'
  echo '(0028,1201) OW =red.raw'; echo '(0028,1202) OW =green.raw'; echo '(0028,1203) OW =blue.raw'
  pixel 32 32 1 1 8 8 0 'PALETTE COLOR' pal8.raw; } > pal.dump
{ common SecondaryCaptureImageStorage OT 6
  echo '(0028,1101) US 256\0\16'; echo '(0028,1102) US 256\0\16'; echo '(0028,1103) US 256\0\16'
  echo '(0028,1221) OW =segred.raw'; echo '(0028,1222) OW =seggreen.raw'; echo '(0028,1223) OW =segblue.raw'
  pixel 32 32 1 1 8 8 0 'PALETTE COLOR' pal8.raw; } > segpal.dump
{ common SecondaryCaptureImageStorage OT 7
  echo '(0028,3000) SQ (Sequence with undefined length #=1)'
  echo '(fffe,e000) na (Item with undefined length #=3)'
  echo '(0028,3002) US 256\0\16'; echo '(0028,3004) LO [synthetic x10]'; echo '(0028,3006) OW =mlut.raw'
  echo '(fffe,e00d) na (ItemDelimitationItem)'; echo '(fffe,e0dd) na (SequenceDelimitationItem)'
  echo '(0028,3010) SQ (Sequence with undefined length #=1)'
  echo '(fffe,e000) na (Item with undefined length #=2)'
  echo '(0028,3002) US 4096\0\8'; echo '(0028,3006) OW =voilut.raw'
  echo '(fffe,e00d) na (ItemDelimitationItem)'; echo '(fffe,e0dd) na (SequenceDelimitationItem)'
  pixel 32 32 1 1 8 8 0 MONOCHROME2 pal8.raw; } > luts.dump

for name in ct mr xa rgb pal segpal luts; do dump2dcm --write-xfer-little "$name.dump" "$name.dcm"; done

# Native encodings.
cp ct.dcm "$out/ct12s_3f_explicit_le.dcm"
dcmconv +ti ct.dcm "$out/ct12s_3f_implicit_le.dcm"
dcmconv +tb ct.dcm "$out/ct12s_3f_big_endian.dcm"
dcmconv +td ct.dcm "$out/ct12s_3f_deflated.dcm"
dcmconv +tb rgb.dcm "$out/rgb8_2f_big_endian.dcm"
dcmconv +tb xa.dcm "$out/xa8_4f_big_endian.dcm"
cp mr.dcm "$out/mr16u_2f_explicit_le.dcm"
cp xa.dcm "$out/xa8_mono1_4f_explicit_le.dcm"
cp rgb.dcm "$out/rgb8_2f_explicit_le.dcm"
cp pal.dcm "$out/palette8_explicit_le.dcm"
cp segpal.dcm "$out/palette8_segmented_explicit_le.dcm"
cp luts.dcm "$out/modality_voi_lut_sequences.dcm"
dcmconv +ti -F ct.dcm "$out/ct12s_3f_bare_dataset_implicit.dcm"      # no preamble, no meta
tail -c +133 ct.dcm > "$out/ct12s_3f_no_preamble.dcm"               # meta kept, preamble and "DICM" dropped
dcmconv +Fm +tb pal.dcm "$out/palette8_big_endian.dcm"

# RLE Lossless.
dcmcrle ct.dcm "$out/ct12s_3f_rle.dcm"
dcmcrle mr.dcm "$out/mr16u_2f_rle.dcm"
dcmcrle rgb.dcm "$out/rgb8_2f_rle.dcm"

# JPEG Lossless (.57 process 14 with predictor 1..7 default, .70 SV1), with and without offset table.
dcmcjpeg +e1 ct.dcm "$out/ct12s_3f_jpeg_sv1.dcm"
dcmcjpeg +el ct.dcm "$out/ct12s_3f_jpeg_lossless.dcm"
dcmcjpeg +e1 -ot mr.dcm "$out/mr16u_2f_jpeg_sv1_no_bot.dcm"
dcmcjpeg +e1 rgb.dcm "$out/rgb8_2f_jpeg_sv1.dcm"

# JPEG Baseline (8-bit) and Extended (12-bit).
dcmcjpeg +eb xa.dcm "$out/xa8_4f_jpeg_baseline.dcm"
dcmcjpeg +eb -ot +fs 1 xa.dcm "$out/xa8_4f_jpeg_baseline_fragments_no_bot.dcm"
dcmcjpeg +eb rgb.dcm "$out/rgb8_2f_jpeg_baseline.dcm"
dcmcjpeg +ee ct.dcm "$out/ct12s_3f_jpeg_extended12.dcm"

# JPEG-LS lossless and near-lossless; colour in all three interleave modes.
dcmcjpls ct.dcm "$out/ct12s_3f_jpegls.dcm"
dcmcjpls -ot +fs 1 mr.dcm "$out/mr16u_2f_jpegls_fragments_no_bot.dcm"
dcmcjpls +en +md 3 mr.dcm "$out/mr16u_2f_jpegls_near.dcm"
dcmcjpls +en +md 2 xa.dcm "$out/xa8_4f_jpegls_near.dcm"
dcmcjpls +in rgb.dcm "$out/rgb8_2f_jpegls_planes.dcm"
dcmcjpls +il rgb.dcm "$out/rgb8_2f_jpegls_line.dcm"
dcmcjpls +is rgb.dcm "$out/rgb8_2f_jpegls_sample.dcm"

# JPEG 2000 (GDCM/OpenJPEG) lossless and lossy.
gdcmconv --j2k ct.dcm "$out/ct12s_3f_j2k.dcm"
gdcmconv --j2k rgb.dcm "$out/rgb8_2f_j2k.dcm"
gdcmconv --j2k --lossy -q 30 mr.dcm "$out/mr16u_2f_j2k_lossy.dcm"

# HTJ2K lossless (1.2.840.10008.1.2.4.201) with OpenJPH's encoder: one fragment per frame, Basic Offset Table
# filled. dcmtk has no HTJ2K encoder, so the encapsulated PixelData is written here byte by byte (PS3.5 A.4).
htj2k() { # native-in out-file
  node - "$repo" "$1" "$2" <<'JS'
const [repo, input, output] = process.argv.slice(2);
const fs = require('fs');
const path = require('path');
const factory = require(path.join(repo, 'node_modules/@cornerstonejs/codec-openjph/dist/openjphjs.js'));
factory({ print() {}, printErr() {} }).then((codec) => {
  const file = fs.readFileSync(input);
  const u16 = (p) => file.readUInt16LE(p);
  // Header values this generator needs, read from the explicit LE dataset written by dump2dcm.
  const find = (group, element) => { for (let p = 132; p + 8 < file.length; p++) if (u16(p) === group && u16(p + 2) === element) return p; return -1; };
  const us = (g, e) => u16(find(g, e) + 8);
  const rows = us(0x28, 0x10), cols = us(0x28, 0x11), bitsStored = us(0x28, 0x101), signed = us(0x28, 0x103) === 1;
  const nfPos = find(0x28, 0x08);
  const frames = nfPos < 0 ? 1 : Number(file.toString('latin1', nfPos + 8, nfPos + 8 + u16(nfPos + 6)).trim());
  const pixelPos = file.lastIndexOf(Buffer.from([0xe0, 0x7f, 0x10, 0x00]));
  const pixels = file.subarray(pixelPos + 12);
  const encoded = [];
  for (let f = 0; f < frames; f++) {
    const enc = new codec.HTJ2KEncoder();
    const raw = enc.getDecodedBuffer({ width: cols, height: rows, bitsPerSample: bitsStored, componentCount: 1, isSigned: signed, isUsingColorTransform: false });
    const frame = new Int16Array(rows * cols);
    for (let i = 0; i < rows * cols; i++) {
      let v = pixels.readUInt16LE(2 * (f * rows * cols + i)) & ((1 << bitsStored) - 1);
      if (signed && v & (1 << (bitsStored - 1))) v -= 1 << bitsStored;
      frame[i] = v;
    }
    raw.set(new Uint8Array(frame.buffer));
    enc.setQuality(true, 0);
    enc.encode();
    const bytes = Buffer.from(enc.getEncodedBuffer());
    enc.delete();
    encoded.push(bytes.length % 2 ? Buffer.concat([bytes, Buffer.alloc(1)]) : bytes);
  }
  const item = (value) => { const h = Buffer.alloc(8); h.writeUInt16LE(0xfffe, 0); h.writeUInt16LE(0xe000, 2); h.writeUInt32LE(value.length, 4); return Buffer.concat([h, value]); };
  const bot = Buffer.alloc(4 * frames); let offset = 0;
  encoded.forEach((e, i) => { bot.writeUInt32LE(offset, 4 * i); offset += e.length + 8; });
  const pixelHeader = Buffer.from([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x42, 0, 0, 0xff, 0xff, 0xff, 0xff]);
  const delimiter = Buffer.from([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]);
  // File meta: keep every element but the transfer syntax, then fix the group length.
  const tsPos = find(0x02, 0x10);
  const uid = Buffer.from('1.2.840.10008.1.2.4.201\0', 'latin1');
  const tsElement = Buffer.alloc(8); tsElement.writeUInt16LE(2, 0); tsElement.writeUInt16LE(0x10, 2); tsElement.write('UI', 4, 'latin1'); tsElement.writeUInt16LE(uid.length, 6);
  const tsEnd = tsPos + 8 + u16(tsPos + 6);
  let metaEnd = 144 + file.readUInt32LE(140);
  const meta = Buffer.concat([file.subarray(132, tsPos), tsElement, uid, file.subarray(tsEnd, metaEnd)]);
  meta.writeUInt32LE(meta.length - 12, 8);
  fs.writeFileSync(output, Buffer.concat([file.subarray(0, 132), meta, file.subarray(metaEnd, pixelPos), pixelHeader,
    item(bot), ...encoded.map(item), delimiter]));
});
JS
}
htj2k ct.dcm "$out/ct12s_3f_htj2k.dcm"
htj2k mr.dcm "$out/mr16u_2f_htj2k.dcm"

ls -l "$out"
