import { PipelineMetrics } from '../../src/pipeline/jobs/metrics';

test('label values with a quote, a backslash and a newline are escaped as the Prometheus text format says', async () => {
  const metrics = new PipelineMetrics();
  const odd = 'a"b\\c\nd';
  metrics.countOutcome('failed', odd);
  metrics.readSnapshotFrom(() => ({ queues: [], jobs: { [odd]: 2 }, models: [{ name: 'demo', version: '1', executionProvider: odd }] }));
  const text = await metrics.registry.metrics();
  // Backslash → \\, quote → \", newline → \n, inside the double-quoted value.
  const escaped = 'a\\"b\\\\c\\nd';
  expect(text).toContain(`t3_study_outcomes_total{outcome="failed",reason="${escaped}"} 1\n`);
  expect(text).toContain(`t3_jobs{state="${escaped}"} 2\n`);
  expect(text).toContain(`t3_model_info{bundle="demo",version="1",execution_provider="${escaped}"} 1\n`);
  // No raw newline inside a sample: every non-empty line is a comment or `name{labels} value`.
  for (const line of text.split('\n').filter((l) => l !== '')) expect(line).toMatch(/^(# (HELP|TYPE) |\w+(\{.*\})? \S+$)/);
});

test('two pipelines in one process keep their own registries', async () => {
  const a = new PipelineMetrics();
  const b = new PipelineMetrics();
  a.countOutcome('done');
  expect(await a.registry.metrics()).toMatch(/^t3_study_outcomes_total\{outcome="done",reason=""\} 1$/m);
  expect(await b.registry.metrics()).not.toMatch(/^t3_study_outcomes_total\{/m);
});

test('a non-finite observation is ignored rather than thrown', async () => {
  const metrics = new PipelineMetrics();
  expect(() => metrics.observeLatency(Number.NaN)).not.toThrow();
  expect(() => metrics.observeLambda('demo', Number.POSITIVE_INFINITY)).not.toThrow();
  expect(await metrics.registry.metrics()).toMatch(/^t3_study_latency_seconds_count 0$/m);
});
