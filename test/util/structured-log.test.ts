/**
 * The sidecar's log lines through pino (src/util/structured-log.ts): still one JSON object per line with `time` and
 * `event`, now with a `level`, and lines below the configured level are not written. The level is set by
 * T3.logging.level, T3_LOG_LEVEL or `serve --log-level`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadSidecarConfig } from '../../src/config';
import { levelOfEvent, type LogLevel } from '../../src/util/log-levels';
import { structuredLog } from '../../src/util/structured-log';
import { spawnServe } from '../helpers/serve-process';

function collect(level?: LogLevel): { log: ReturnType<typeof structuredLog>; lines: string[] } {
  const lines: string[] = [];
  return { log: structuredLog({ write: (chunk: string) => lines.push(chunk) }, level), lines };
}

test('one JSON object per line, with the event, its fields, an ISO time and the level', () => {
  const { log, lines } = collect();
  const before = Date.now();
  log('serving', { orthanc: 'http://127.0.0.1:8042', bundles: ['demo'] });
  log('grpc-internal-error', { method: 'Classify', error: 'boom' });
  expect(lines).toHaveLength(2);
  for (const line of lines) expect(line.endsWith('\n') && !line.slice(0, -1).includes('\n')).toBe(true);
  const [serving, failure] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(Object.keys(serving).sort()).toEqual(['bundles', 'event', 'level', 'orthanc', 'time']);
  expect(serving).toMatchObject({ level: 'info', event: 'serving', orthanc: 'http://127.0.0.1:8042', bundles: ['demo'] });
  expect(Date.parse(serving.time as string)).toBeGreaterThanOrEqual(before - 1000);
  expect(serving.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  expect(failure).toMatchObject({ level: 'error', event: 'grpc-internal-error', method: 'Classify', error: 'boom' });
});

test('each event has its level: failures that lose work at error, retries and work-arounds at warn, chatter at debug', () => {
  expect(levelOfEvent('grpc-internal-error')).toBe('error');
  expect(levelOfEvent('study-parked')).toBe('error');
  expect(levelOfEvent('study-failed')).toBe('warn'); // retried
  expect(levelOfEvent('orthanc-problem')).toBe('warn');
  expect(levelOfEvent('serving')).toBe('info');
  expect(levelOfEvent('study-done')).toBe('info');
  expect(levelOfEvent('study-unchanged')).toBe('debug');
  expect(levelOfEvent('study-gone')).toBe('debug');
  // Seen at the default level: the provider an engine runs on, and which cluster worker claimed a study.
  expect(levelOfEvent('engine')).toBe('info');
  expect(levelOfEvent('study-claimed')).toBe('info');
  // A new event nobody classified yet is not hidden by the default level.
  expect(levelOfEvent('an-event-added-later')).toBe('info');
  expect(levelOfEvent('constructor')).toBe('info');
});

test('lines below the configured level are not written; silent writes none', () => {
  const events = ['study-unchanged', 'serving', 'orthanc-problem', 'grpc-internal-error'];
  const written = (level: LogLevel | undefined) => {
    const { log, lines } = collect(level);
    for (const event of events) log(event, {});
    return lines.map((l) => (JSON.parse(l) as { event: string }).event);
  };
  expect(written(undefined)).toEqual(['serving', 'orthanc-problem', 'grpc-internal-error']);
  expect(written('debug')).toEqual(events);
  expect(written('warn')).toEqual(['orthanc-problem', 'grpc-internal-error']);
  expect(written('error')).toEqual(['grpc-internal-error']);
  expect(written('silent')).toEqual([]);
});

test('T3.logging.level: info by default, T3_LOG_LEVEL sets it, a wrong word is refused under the variable', () => {
  expect(loadSidecarConfig({}).config.logging.level).toBe('info');
  expect(loadSidecarConfig({ env: { T3_LOG_LEVEL: 'debug' } }).config.logging.level).toBe('debug');
  expect(loadSidecarConfig({ overrides: { logging: { level: 'warn' } } }).config.logging.level).toBe('warn');
  let caught: unknown = null;
  try {
    loadSidecarConfig({ env: { T3_LOG_LEVEL: 'verbose' } });
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  expect((caught as ConfigError).message).toBe('T3_LOG_LEVEL: must be one of debug | info | warn | error | silent, got "verbose"');
});

test('serve --log-level warn: the warning about an unreachable Orthanc is written, the info lines are not', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 't3-log-level-'));
  try {
    const configFile = path.join(dir, 't3.json');
    // Port 9 (discard) on loopback: nothing listens, so the follower reports orthanc-problem at once.
    fs.writeFileSync(configFile, JSON.stringify({ T3: {
      orthanc: { url: 'http://127.0.0.1:9' }, follower: { checkpointPath: path.join(dir, 'checkpoint.json') },
      grpc: { listen: '' }, metrics: { listen: '' },
    } }));
    const serve = spawnServe(configFile, {}, ['--log-level', 'warn']);
    const deadline = Date.now() + 60000;
    while (!serve.lines.some((l) => l.event === 'orthanc-problem') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    serve.child.kill('SIGTERM');
    await serve.exited;
    const events = serve.lines.map((l) => l.event);
    expect(events).toContain('orthanc-problem');
    expect(serve.lines.find((l) => l.event === 'orthanc-problem')).toMatchObject({ level: 'warn' });
    expect(events.filter((e) => ['starting', 'serving', 'stopping', 'stopped'].includes(e))).toEqual([]);
    expect(serve.lines.every((l) => l.level === 'warn' || l.level === 'error')).toBe(true);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
