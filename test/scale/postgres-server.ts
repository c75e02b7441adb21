/**
 * A throwaway PostgreSQL (Debian's postgresql-15) for tests: initdb in a temp folder, a free loopback port, a Unix
 * socket in the same folder, fsync off. PostgreSQL refuses to run as root, so as root the server runs as the
 * `postgres` system user the Debian package creates (`runuser -u postgres`), in a folder that user owns.
 */
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../helpers/orthanc-server';

const run = promisify(execFile);

export const PG_BIN = '/usr/lib/postgresql/15/bin';

export interface PostgresServer {
  host: string;
  port: number;
  database: string;
  username: string;
  password: string;
  dir: string;
  /** `pg_ctl stop -m fast`, then removes the folder. */
  stop(): Promise<void>;
}

export function postgresAvailable(): boolean {
  return fs.existsSync(path.join(PG_BIN, 'initdb')) && fs.existsSync('/usr/share/orthanc/plugins/libOrthancPostgreSQLIndex.so');
}

function asServerUser(cmd: string, args: string[]): [string, string[]] {
  return process.getuid && process.getuid() === 0 ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
}

export async function startPostgres(database = 'orthanc'): Promise<PostgresServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 't3-pg-'));
  if (process.getuid && process.getuid() === 0) execFileSync('chown', ['postgres:postgres', dir]);
  const data = path.join(dir, 'data');
  const port = await freePort();
  const password = 't3-test';
  const pwFile = path.join(dir, 'pw');
  fs.writeFileSync(pwFile, password);
  if (process.getuid && process.getuid() === 0) execFileSync('chown', ['postgres:postgres', pwFile]);
  const [c1, a1] = asServerUser(path.join(PG_BIN, 'initdb'), ['-D', data, '-U', 'orthanc', '--pwfile', pwFile, '-A', 'scram-sha-256', '--no-sync', '-E', 'UTF8']);
  await run(c1, a1);
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=50`;
  const [c2, a2] = asServerUser(path.join(PG_BIN, 'pg_ctl'), ['-D', data, '-o', opts, '-l', path.join(dir, 'postgres.log'), '-w', 'start']);
  await run(c2, a2);
  const env = { ...process.env, PGPASSWORD: password };
  await run('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', 'orthanc', '-d', 'postgres', '-c', `CREATE DATABASE ${database}`], { env });
  return {
    host: '127.0.0.1',
    port,
    database,
    username: 'orthanc',
    password,
    dir,
    async stop() {
      const [c3, a3] = asServerUser(path.join(PG_BIN, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop']);
      await run(c3, a3).catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Orthanc configuration keys that put its index on this PostgreSQL (several Orthancs may share it: Lock false). */
export function orthancOnPostgres(pg: PostgresServer, identifier: string, sharedStorage: string): Record<string, unknown> {
  return {
    Plugins: ['/usr/share/orthanc/plugins/libOrthancPostgreSQLIndex.so'],
    PostgreSQL: { EnableIndex: true, EnableStorage: false, Host: pg.host, Port: pg.port, Database: pg.database, Username: pg.username, Password: pg.password, Lock: false },
    CheckRevisions: true,
    SaveJobs: false,
    DatabaseServerIdentifier: identifier,
    StorageDirectory: sharedStorage,
    IndexDirectory: sharedStorage,
  };
}
