/**
 * What `serve` says when it cannot use Orthanc: a real Orthanc with authentication and serve (a real process) with the
 * wrong password; and the real REST client against a closed port, an unknown host and a web server that is not
 * Orthanc. Each problem is told apart and names the setting to change.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { diagnoseOrthancFailure } from '../../src/orthanc/connection-diagnosis';
import { OrthancClient } from '../../src/orthanc';
import { freePort, startOrthanc, type OrthancServer } from '../helpers/orthanc-server';
import { spawnServe, type ServeProcess } from '../helpers/serve-process';
import { makeTempDir, removeTempDirs, waitFor } from './harness';

jest.setTimeout(120000);

let orthanc: OrthancServer;
let serve: ServeProcess | null = null;

afterAll(async () => {
  if (serve && serve.child.exitCode === null) {
    serve.child.kill('SIGTERM');
    await serve.exited;
  }
  await orthanc?.stop({ removeWorkDir: true });
  removeTempDirs();
});

test('serve with the wrong password says so within 2 s, names T3.orthanc.username/password and the 401, and repeats it', async () => {
  orthanc = await startOrthanc({ credentials: { username: 'pacs', password: 'right-password' } });
  const work = makeTempDir('t3-diagnostics-');
  const metricsPort = await freePort();
  const configFile = path.join(work, 't3.json');
  fs.writeFileSync(configFile, JSON.stringify({
    T3: {
      orthanc: { url: orthanc.url, username: 'pacs', password: 'wrong-password' },
      follower: { checkpointPath: path.join(work, 'checkpoint.json'), problemRepeatMs: 2000 },
      inference: { executionProviders: ['cpu'] },
      grpc: { listen: '' },
      metrics: { listen: `127.0.0.1:${metricsPort}` },
    },
  }));
  const spawnedAt = Date.now();
  serve = spawnServe(configFile);
  const problems = () => serve!.lines.filter((l) => l.event === 'orthanc-problem');
  await waitFor('the first orthanc-problem line', () => problems().length >= 1, 30000, 50);
  const starting = serve.lines.find((l) => l.event === 'starting')!;
  const first = problems()[0];
  // From the process's first line (the configuration is read) to the diagnosis; the process start itself (tsx
  // compiling the sources) is not serve's doing and is printed for the record.
  process.stdout.write(`serve: first line after ${starting.time - spawnedAt} ms, 401 diagnosis ${first.time - starting.time} ms later\n`);
  expect(first.time - starting.time).toBeLessThan(2000);
  expect(first).toMatchObject({ problem: 'authentication', setting: 'T3.orthanc.username/password (T3_ORTHANC_USERNAME/T3_ORTHANC_PASSWORD)' });
  expect(String(first.message)).toContain('T3.orthanc.username/password');
  expect(String(first.message)).toContain('HTTP 401');
  expect(String(first.message)).toContain('refused the configured credentials');

  // Repeated while it lasts, at the configured bound (2 s here; at most 60 s allowed).
  await waitFor('two repeats', () => problems().length >= 3, 20000, 100);
  const [a, b, c] = problems();
  expect(b.repeat).toBe(1);
  expect(c.repeat).toBe(2);
  expect(b.time - a.time).toBeGreaterThanOrEqual(1900);
  expect(c.time - b.time).toBeLessThan(6000);
  expect(problems().every((l) => l.problem === 'authentication')).toBe(true);
  // The demo bundle is announced at start as what it is.
  await waitFor('the demonstration-model line', () => serve!.lines.some((l) => l.event === 'demonstration-model'), 20000, 100);

  // /readyz says the same thing as the log (and GetStatus's follower.last_error).
  const readyz = await fetch(`http://127.0.0.1:${metricsPort}/readyz`);
  expect(readyz.status).toBe(503);
  expect(await readyz.text()).toBe(`not ready: ${first.message}\n`);
});

async function diagnose(url: string, credentials = false) {
  const client = new OrthancClient({ url, username: credentials ? 'u' : null, password: credentials ? 'p' : null, timeoutMs: 3000 });
  try {
    await client.system();
  } catch (err) {
    return diagnoseOrthancFailure(err, url, credentials);
  }
  throw new Error(`${url} answered like Orthanc`);
}

test('a refused connection, an unknown host, a server that is not Orthanc and missing credentials are told apart', async () => {
  const closed = `http://127.0.0.1:${await freePort()}`;
  expect(await diagnose(closed)).toMatchObject({ problem: 'connection-refused', setting: 'T3.orthanc.url (T3_ORTHANC_URL)' });
  expect((await diagnose(closed)).message).toContain('ECONNREFUSED');

  const unknown = await diagnose('http://no-such-host.invalid:8042');
  expect(unknown.problem).toBe('host-not-found');
  expect(unknown.message).toMatch(/DNS (ENOTFOUND|EAI_AGAIN)/);

  const web = http.createServer((_req, res) => res.writeHead(200, { 'Content-Type': 'text/html' }).end('<html><body>It works!</body></html>'));
  await new Promise<void>((r) => web.listen(0, '127.0.0.1', () => r()));
  try {
    const notOrthanc = await diagnose(`http://127.0.0.1:${(web.address() as AddressInfo).port}`);
    expect(notOrthanc.problem).toBe('not-orthanc');
    expect(notOrthanc.message).toContain('It works!');
    expect(notOrthanc.message).toContain('T3.orthanc.url');
  } finally {
    web.close();
  }

  const noLogin = await diagnose(orthanc.url);
  expect(noLogin.problem).toBe('authentication');
  expect(noLogin.message).toContain('requires a login and none is configured (HTTP 401)');
});
