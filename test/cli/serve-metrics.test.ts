/**
 * /metrics of the serve runtime after the move to prom-client (issue 27): every metric dashboards read before keeps
 * its name, type, help and label names, and the process metrics are added. The expected table was taken from the
 * hand-written exposition text the sidecar served before (src/pipeline/jobs/metrics.ts, src/cli/serve.ts,
 * src/orthanc/sidecar-service.ts, src/pipeline/speculation/speculation-wiring.ts at fd16293), with speculation and shared mode on
 * so that every metric is present.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadSidecarConfig } from '../../src/config';
import { closeSharedFramePool } from '../../src/dicom';
import { startServeRuntime, type ServeRuntime } from '../../src/cli/serve';

jest.setTimeout(120000);

/** name → [type, help, label names (histograms: without `le`)], as served before prom-client. */
const BEFORE: Record<string, [string, string, string[]]> = {
  t3_queue_depth: ['gauge', 'Studies waiting per bundle and lane.', ['bundle', 'lane']],
  t3_queued_images: ['gauge', 'Images waiting in each bundle batcher.', ['bundle']],
  t3_jobs: ['gauge', 'Study jobs by state.', ['state']],
  t3_model_info: ['gauge', 'Loaded bundles and the execution provider in use.', ['bundle', 'version', 'execution_provider']],
  t3_batch_images: ['histogram', 'Images per classification call (a T3B call spans one or more merged batches).', ['bundle']],
  t3_batch_lambda: ['histogram', 'λ_B of merged batches.', ['bundle']],
  t3_study_latency_seconds: ['histogram', 'From handover (stable study or request) to SR and metadata written.', []],
  t3_study_outcomes_total: ['counter', 'Finished study runs by outcome and reason.', ['outcome', 'reason']],
  t3_images_classified_total: ['counter', 'Images (frames) classified, by bundle and source (study from Orthanc, classify from gRPC).', ['bundle', 'source']],
  t3_follower_checkpoint: ['gauge', 'Saved change-feed position (low-watermark of unfinished work).', []],
  t3_follower_orthanc_up: ['gauge', '1 when the last poll of Orthanc succeeded.', []],
  t3_shared_studies_pending: ['gauge', 'Studies noted and not yet finished (shared mode).', []],
  t3_shared_claims_total: ['counter', 'Readiness checks and claims (shared mode).', ['event']],
  t3_speculation_cache_lookups_total: ['counter', 'Fixed-pass cache lookups at readiness, by result.', ['result']],
  t3_speculation_cache_bytes: ['gauge', 'Memory held by cached fixed passes.', []],
  t3_speculation_instances_total: ['counter', 'Instances offered to speculation, by what became of them.', ['outcome']],
};

/** Process metrics prom-client's collectDefaultMetrics adds. */
const PROCESS_METRICS = ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_gc_duration_seconds'];

let runtime: ServeRuntime;
let work: string;

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 't3-serve-metrics-'));
  const { config } = loadSidecarConfig({
    overrides: {
      // Nothing listens there, and the change feed is off: only the metrics are looked at.
      orthanc: { url: 'http://127.0.0.1:9', timeoutMs: 2000 },
      follower: { checkpointPath: path.join(work, 'checkpoint.json') },
      inference: { executionProviders: ['cpu'] },
      coordination: { mode: 'shared' },
      speculation: { enabled: true },
      grpc: { listen: '' },
      metrics: { listen: '127.0.0.1:0' },
    },
  });
  runtime = await startServeRuntime(config, { log: () => undefined, follow: false });
  // One sample of each event-driven metric, so that its label names show.
  const metrics = runtime.service.sidecar.metrics;
  metrics.observeBatch('demo', 3);
  metrics.observeLambda('demo', 0.4);
  metrics.observeLatency(1.5);
  metrics.countOutcome('failed', 'decode');
  metrics.observeClassified('demo', 'classify', []);
});

afterAll(async () => {
  await runtime?.stop();
  await closeSharedFramePool();
  fs.rmSync(work, { recursive: true, force: true });
});

test('/metrics keeps every metric name, type, help and label names, and adds the process metrics', async () => {
  const response = await fetch(`http://127.0.0.1:${runtime.metrics!.port}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await response.text();

  const types = new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1], m[2]]));
  const helps = new Map([...text.matchAll(/^# HELP (\S+) (.*)$/gm)].map((m) => [m[1], m[2]]));
  for (const [name, [type, help, labels]] of Object.entries(BEFORE)) {
    expect({ name, type: types.get(name), help: helps.get(name) }).toEqual({ name, type, help });
    const sample = type === 'histogram' ? `${name}_bucket` : name;
    const line = new RegExp(`^${sample}(?:\\{([^}]*)\\})? `, 'm').exec(text);
    expect({ name, sampled: line !== null }).toEqual({ name, sampled: true });
    const seen = [...(line?.[1] ?? '').matchAll(/(\w+)="/g)].map((m) => m[1]).filter((l) => l !== 'le');
    expect({ name, labels: seen }).toEqual({ name, labels });
  }
  for (const name of PROCESS_METRICS) expect({ name, present: types.has(name) }).toEqual({ name, present: true });

  expect(text).toMatch(/^t3_model_info\{bundle="demo",version="[^"]+",execution_provider="cpu"\} 1$/m);
  expect(text).toMatch(/^t3_study_outcomes_total\{outcome="failed",reason="decode"\} 1$/m);
  expect(text).toMatch(/^t3_batch_images_bucket\{le="4",bundle="demo"\} 1$/m); // prom-client writes `le` first
  expect(text).toMatch(/^t3_follower_orthanc_up 0$/m);
  expect(text).toMatch(/^t3_speculation_cache_lookups_total\{result="hit"\} 0$/m);
  expect(text).toMatch(/^t3_shared_claims_total\{event="claimedElsewhere"\} 0$/m);
});
