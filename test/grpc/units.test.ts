/** The gRPC layer's small pure pieces: token parsing, listen addresses, the admission queue, secret redaction. */
import * as grpc from '@grpc/grpc-js';
import {
  AdmissionQueue,
  isLoopbackHost,
  parseListenAddress,
  clientTokenOf,
  parseTokenFile,
  parseTokenList,
  redactSecrets,
  withoutRedacted,
} from '../../src/grpc';
import { differingPaths } from '../../src/util/json-value';

describe('token configuration', () => {
  const token = 'abcdefghijklmnop-0123';

  test('a token file maps tokens to roles', () => {
    const table = parseTokenFile(JSON.stringify({ tokens: [{ token, roles: ['triage', 'admin'] }] }), 'tokens.json');
    expect([...(table.rolesOf(token) ?? [])].sort()).toEqual(['admin', 'triage']);
    expect(table.rolesOf(`${token}x`)).toBeNull();
  });

  test('one token-file format for the sidecar and its clients: JSON or "TOKEN role+role" lines', () => {
    const lines = parseTokenFile(`# the plugin\n${token} admin+triage\n\n${token}-2 triage\n`, 'tokens');
    expect([...(lines.rolesOf(token) ?? [])].sort()).toEqual(['admin', 'triage']);
    expect([...(lines.rolesOf(`${token}-2`) ?? [])]).toEqual(['triage']);
    expect(() => parseTokenFile(`${token}\n`, 'tokens')).toThrow(/tokens line 1: expected "TOKEN role\+role"/);
    // A client sends the first entry's token, whatever the form (a bare token line too, the plugin's older file).
    expect(clientTokenOf(JSON.stringify({ tokens: [{ token, roles: ['admin'] }] }), 'f')).toBe(token);
    expect(clientTokenOf(`# mine\n${token} admin+triage\n`, 'f')).toBe(token);
    expect(clientTokenOf(`  ${token}\n`, 'f')).toBe(token);
    expect(() => clientTokenOf('{"tokens": []}', 'f')).toThrow(/f: holds no token/);
  });

  test('the environment form', () => {
    const table = parseTokenList(`${token}=triage+admin, ${token}-2=triage`, 'T3_GRPC_TOKENS');
    expect(table.size).toBe(2);
    expect(table.rolesOf(`${token}-2`)?.has('admin')).toBe(false);
  });

  test('errors name the source and the entry', () => {
    expect(() => parseTokenFile('{', 'tokens.json')).toThrow(/^tokens\.json: not valid JSON/);
    expect(() => parseTokenFile('{"tokens": 3}', 'tokens.json')).toThrow(/tokens\.json: expected/);
    expect(() => parseTokenFile(JSON.stringify([{ token }]), 'tokens.json')).toThrow(/tokens\.json\[0\]: names no role/);
    expect(() => parseTokenList('justatoken', 'T3_GRPC_TOKENS')).toThrow(/T3_GRPC_TOKENS item 1: expected TOKEN=role/);
  });
});

describe('listen addresses', () => {
  test.each([
    ['127.0.0.1:50051', '127.0.0.1', 50051],
    ['[::1]:0', '::1', 0],
    ['localhost:7000', 'localhost', 7000],
  ])('%s', (address, host, port) => {
    expect(parseListenAddress(address)).toEqual({ host, port });
  });

  test('bad addresses are refused', () => {
    expect(() => parseListenAddress('50051')).toThrow(/must be host:port/);
    expect(() => parseListenAddress('127.0.0.1:99999')).toThrow(/out of range/);
  });

  test('loopback detection', () => {
    expect(['127.0.0.1', '127.1.2.3', '::1', 'localhost'].map(isLoopbackHost)).toEqual([true, true, true, true]);
    expect(['0.0.0.0', '::', '10.0.0.1', 'example.org', '128.0.0.1'].map(isLoopbackHost)).toEqual([false, false, false, false, false]);
  });
});

describe('admission queue', () => {
  test('runs up to the limit, queues up to the bound in order, refuses beyond', async () => {
    const queue = new AdmissionQueue(1, 2);
    const signal = new AbortController().signal;
    const order: number[] = [];
    const releaseFirst = await queue.acquire(signal);
    const second = queue.acquire(signal).then((release) => { order.push(2); return release; });
    const third = queue.acquire(signal).then((release) => { order.push(3); return release; });
    await expect(queue.acquire(signal)).rejects.toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED });
    expect(queue.rejectedTotal).toBe(1);
    releaseFirst();
    (await second)();
    (await third)();
    expect(order).toEqual([2, 3]);
    expect(queue.inFlight).toBe(0);
  });

  test('an aborted waiter leaves the queue and frees its place', async () => {
    const queue = new AdmissionQueue(1, 1);
    const release = await queue.acquire(new AbortController().signal);
    const controller = new AbortController();
    const waiting = queue.acquire(controller.signal);
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ code: grpc.status.CANCELLED });
    expect(queue.queued).toBe(0);
    const next = queue.acquire(new AbortController().signal);
    release();
    (await next)();
    expect(queue.inFlight).toBe(0);
  });
});

describe('configuration secrets', () => {
  const config = {
    orthanc: { url: 'http://127.0.0.1:8042', username: 'u', password: 'secret-pw' },
    grpc: { tokens: [{ token: 'secret-token-value', role: 'admin' }], tls: { certFile: 'c.pem', keyFile: '/etc/k.pem', clientCaFile: null } },
  };

  test('redaction hides passwords, tokens and key paths', () => {
    const shown = JSON.stringify(redactSecrets(config));
    expect(shown).not.toMatch(/secret-pw|secret-token-value|k\.pem/);
    expect(shown).toContain('c.pem');
  });

  test('a redacted value sent back is not applied', () => {
    expect(withoutRedacted(redactSecrets(config))).toEqual({
      orthanc: { url: 'http://127.0.0.1:8042', username: 'u' },
      grpc: { tls: { certFile: 'c.pem', clientCaFile: null } },
    });
  });

  test('changed keys are dotted paths', () => {
    expect(differingPaths({ a: { b: 1, c: [1] }, d: 2 }, { a: { b: 1, c: [2] }, d: 3 })).toEqual(['a.c', 'd']);
  });
});

describe('WatchTriage resume over a bounded history (real ResultFeed, real server and client)', () => {
  test('events older than the history are reported as a gap on the first event; later ones replay in order', async () => {
    const { ResultFeed } = await import('../../src/pipeline');
    const { PipelineBackend, sidecarOperations, startGrpcServer } = await import('../../src/grpc');
    const { ClassifyCall } = await import('../../src/pipeline');
    const { bearer, connect, testTokens, TRIAGE_TOKEN } = await import('./grpc-test-helpers');
    const feed = new ResultFeed(2);
    const result = (i: number) => ({
      jobId: `job-${i}`, orthancStudyId: `study-${i}`, studyInstanceUid: `1.2.${i}`, status: 'done' as const, error: null,
      runPriority: 'routine' as const, triage: { priority: 'urgent' as const, firedRule: null, needsHumanReview: false, reviewReason: null },
      images: [], failedImages: [], batchLambdas: [0.5], modalities: ['CR'], bundle: null, policy: 't3b' as const,
      inputSetHash: null, sr: null,
      timings: { queuedAt: new Date(0).toISOString(), startedAt: null, finishedAt: null, loadMs: 0, inferMs: 0, writeMs: 0, totalMs: 0 },
      attempts: 1,
    });
    for (let i = 1; i <= 5; i++) feed.publish(result(i));
    // Only the feed of the Sidecar is used by WatchTriage.
    const studies = sidecarOperations({ feed } as unknown as import('../../src/pipeline').Sidecar, { queueBound: () => 1 });
    const server = await startGrpcServer({
      listen: '127.0.0.1:0',
      security: { kind: 'plaintext' },
      tokens: testTokens(),
      backend: new PipelineBackend({
        classifier: new ClassifyCall({
          engines: () => new Map(),
          settings: () => ({ batchSize: 1, defaultPolicy: 't3b', defaultWiseAlpha: 0.5, defaultFrames: 'first', triage: { rules: [], disagreement: {} } }),
        }),
        studies,
        version: 'test',
      }),
    });
    const clients = connect(server.port);
    try {
      const events: any[] = [];
      const call = clients.triage.WatchTriage({ resumeAfterEventId: 1, priorities: ['PRIORITY_URGENT'] }, bearer(TRIAGE_TOKEN));
      call.on('data', (e: unknown) => events.push(e));
      call.on('error', () => undefined);
      const until = async (n: number) => {
        for (let t = 0; t < 200 && events.length < n; t++) await new Promise((r) => setTimeout(r, 10));
      };
      await until(2);
      expect(events.map((e) => [e.eventId, e.historyGap])).toEqual([[4, true], [5, false]]);
      feed.publish(result(6));
      await until(3);
      expect(events.map((e) => e.eventId)).toEqual([4, 5, 6]);
      expect(events[2].result.orthancStudyId).toBe('study-6');
      call.cancel();
    } finally {
      clients.close();
      await server.close(500);
    }
  });
});

describe('load-test statistics', () => {
  test('nearest-rank percentiles', async () => {
    const { percentile } = await import('../../src/cli/load-test');
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect([percentile(values, 50), percentile(values, 95), percentile(values, 99), percentile(values, 100)]).toEqual([50, 95, 99, 100]);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });
});
