/**
 * Child-process probe for decoded-size.test.ts: how far decoding one file raises this process's peak RSS.
 *
 *   node --require tsx/cjs test/dicom/decode-memory-probe.ts WARMUP.dcm FILE.dcm FRAME_POLICY
 *
 * Peak RSS (getrusage's maxRSS) is a high-water mark, so it is measured in a fresh process: the file is read and a
 * small WARMUP file decoded first (the frame worker starts, and tsx compiles its code), then the mark is taken, then
 * FILE is decoded. Prints one JSON line: the peak before and after (KiB) and the frame numbers decoded.
 */
import fs from 'node:fs';
import { closeSharedFramePool, decodeFrames, type FramePolicy } from '../../src/dicom';

async function main(): Promise<void> {
  const [warmup, file, policyText] = process.argv.slice(2);
  const framePolicy: FramePolicy = /^\d+$/.test(policyText) ? Number(policyText) : policyText as FramePolicy;
  const read = fs.readFileSync(file);
  const bytes = new Uint8Array(read.buffer, read.byteOffset, read.length); // a view: the file is held once
  await decodeFrames(new Uint8Array(fs.readFileSync(warmup)), { framePolicy: 'first', source: 'warmup' });
  const peakBefore = process.resourceUsage().maxRSS;
  const decoded = await decodeFrames(bytes, { framePolicy, source: 'probe' });
  const peakAfter = process.resourceUsage().maxRSS;
  const firstSample = decoded.frames.map((f) => f.samples[0]);
  process.stdout.write(`${JSON.stringify({ peakBeforeKiB: peakBefore, peakAfterKiB: peakAfter, fileBytes: bytes.length,
    frameNumbers: decoded.frames.map((f) => f.frameNumber), firstSample })}\n`);
  await closeSharedFramePool();
}

main().catch((error) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
