import { chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../support/ports.js';
import { run, startProcess, waitUntil, type ClusterProcess } from './processes.js';

/** How Temporal (and tests) reach the run's PostgreSQL. */
export interface PostgresInfo {
  host: string;
  port: number;
  user: string;
  password: string;
}

/** A PostgreSQL server of one run; `stop()` shuts it down and removes its data. */
export interface RunningPostgres extends PostgresInfo {
  process: ClusterProcess;
  dir: string;
  stop(): Promise<void>;
}

/** PostgreSQL refuses to run as root: as root, the server runs as the `postgres` user of Debian's package. */
async function serverUser(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
    return { uid: Number(uid.trim()), gid: Number(gid.trim()) };
  } catch (err) {
    throw new Error('running as root needs the `postgres` user; run scripts/cluster/install.sh (apt-get install postgresql)', {
      cause: err,
    });
  }
}

/**
 * Creates a fresh cluster with initdb in a temp dir (superuser `temporal`, password auth) and
 * starts `postgres` on a free loopback port with its socket in that dir, so it never touches a
 * system-wide PostgreSQL. `binDir` is /usr/lib/postgresql/<major>/bin (scripts/cluster/install.sh).
 */
export async function startPostgres(binDir: string): Promise<RunningPostgres> {
  const user = await serverUser();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fetchbox-pg-'));
  const dataDir = path.join(dir, 'data');
  const password = 'temporal';
  const pwFile = path.join(dir, 'pw');
  await writeFile(pwFile, `${password}\n`, { mode: 0o600 });
  if (user) {
    await chown(dir, user.uid, user.gid);
    await chown(pwFile, user.uid, user.gid);
  }
  const as = user ? { uid: user.uid, gid: user.gid } : {};
  const env = { ...process.env, LC_ALL: 'C', HOME: dir };
  await run(
    path.join(binDir, 'initdb'),
    ['-D', dataDir, '-U', 'temporal', `--pwfile=${pwFile}`, '--auth=scram-sha-256', '-E', 'UTF8', '--locale=C', '--no-sync'],
    { ...as, env },
  );
  const port = await freePort();
  const proc = startProcess(
    'postgres',
    path.join(binDir, 'postgres'),
    [
      '-D',
      dataDir,
      '-c',
      'listen_addresses=127.0.0.1',
      '-p',
      String(port),
      '-c',
      `unix_socket_directories=${dir}`,
      '-c',
      'max_connections=300',
    ],
    path.join(dir, 'postgres.log'),
    { ...as, env },
  );
  const pgIsReady = path.join(binDir, 'pg_isready');
  await waitUntil(
    'postgres',
    async () => await run(pgIsReady, ['-q', '-h', '127.0.0.1', '-p', String(port)]).then(() => true),
    60_000,
    proc,
  );
  return {
    host: '127.0.0.1',
    port,
    user: 'temporal',
    password,
    process: proc,
    dir,
    async stop() {
      await proc.stop('SIGINT', 15_000); // fast shutdown
      await rm(dir, { recursive: true, force: true });
    },
  };
}
