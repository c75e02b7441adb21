/**
 * Memory under a burst, measured on the server alone (a child process, memory-probe-server.ts, with the default
 * limits): sixteen parallel Classify calls of 60 MiB each.
 *
 * The documented budget (SECURITY.md, "Memory"): peak RSS above the idle baseline stays under 2.5 × the request byte
 * budget (256 MiB by default): each admitted message is held as HTTP/2 frames, then joined into one buffer (2 ×), plus
 * margin: 640 MiB. The unbounded server went from 389 MiB to 2.41 GiB. Calls beyond the byte budget are answered
 * RESOURCE_EXHAUSTED before their bodies are read. Afterwards RSS must come back below the baseline plus the request
 * budget within 60 s (the test polls and stops as soon as it does). The issue's target, within 20 % of the baseline,
 * is NOT met: about 190 MiB stay resident outside V8's accounting (heap and external memory are back to their idle
 * values); see SECURITY.md.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { bearer, codeOf, connect, readSample, TRIAGE_TOKEN, unary } from './grpc-test-helpers';

jest.setTimeout(240000);

const MiB = 1024 * 1024;
const REQUEST_BUDGET_BYTES = 256 * MiB;
const PEAK_BUDGET_BYTES = 2.5 * REQUEST_BUDGET_BYTES;

let child: ChildProcess;
let port: number;

function statusField(field: 'VmRSS' | 'VmHWM'): number {
  const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
  if (!match) throw new Error(`no ${field} in /proc/${child.pid}/status`);
  return Number(match[1]) * 1024;
}

beforeAll(async () => {
  child = spawn(process.execPath, ['--require', 'tsx/cjs', path.join(__dirname, 'memory-probe-server.ts')], {
    cwd: path.resolve(__dirname, '..', '..'),
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve(JSON.parse(line).port);
    });
    child.once('exit', (code) => reject(new Error(`the server exited with ${code}`)));
  });
});

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.stdin!.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
    await exited;
    clearTimeout(timer);
  }
});

test('sixteen parallel 60 MiB Classify calls stay under the documented peak; RSS comes back below baseline + the request budget', async () => {
  const clients = connect(port, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': 100 * MiB });
  try {
    // 60 MiB that is not DICOM: the server holds each admitted message whole before it can tell (INVALID_ARGUMENT),
    // which is what the byte budget bounds; decoding's own working set is bounded by the running-call limit.
    const request = { images: [{ name: 'big', dicom: Buffer.alloc(60 * MiB, 7) }] };
    // Warm-up with a small image: the first call's code paths and engine buffers belong to the baseline.
    const small = { images: [{ name: 'mr', dicom: readSample('pydicom_MR_small.dcm') }] };
    expect((await codeOf(unary(clients.triage, 'Classify', small, bearer(TRIAGE_TOKEN)))).code).toBe(grpc.status.OK);
    await new Promise((r) => setTimeout(r, 3000));
    const baseline = statusField('VmRSS');
    // Peak from here on: writing 5 to clear_refs resets the high-water mark (Linux ≥ 4.0).
    fs.writeFileSync(`/proc/${child.pid}/clear_refs`, '5');

    const results = await Promise.all(Array.from({ length: 16 }, () => codeOf(unary(clients.triage, 'Classify', request, bearer(TRIAGE_TOKEN)))));
    const peak = statusField('VmHWM');
    const served = results.filter((r) => r.code === grpc.status.INVALID_ARGUMENT).length;
    const refused = results.filter((r) => r.code === grpc.status.RESOURCE_EXHAUSTED).length;

    const started = Date.now();
    let rss = statusField('VmRSS');
    const recovered = baseline + REQUEST_BUDGET_BYTES;
    while (rss > recovered && Date.now() - started < 60000) {
      await new Promise((r) => setTimeout(r, 1000));
      rss = statusField('VmRSS');
    }
    const recoverySeconds = (Date.now() - started) / 1000;
    // The figures, for the record (SECURITY.md quotes a run).
    console.log(JSON.stringify({
      baselineMiB: Math.round(baseline / MiB), peakMiB: Math.round(peak / MiB), afterMiB: Math.round(rss / MiB), recoverySeconds, served, refused,
      answers: results.map((r) => `${grpc.status[r.code]} ${r.details.slice(0, 160)}`),
    }));

    expect(served + refused).toBe(16);
    expect(served).toBeGreaterThanOrEqual(1);
    expect(refused).toBeGreaterThanOrEqual(1);
    expect(results.find((r) => r.code === grpc.status.RESOURCE_EXHAUSTED)?.details).toMatch(/budget/);
    expect(peak - baseline).toBeLessThan(PEAK_BUDGET_BYTES);
    expect(rss).toBeLessThanOrEqual(recovered);
  } finally {
    clients.close();
  }
});
