import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { dynamicConfigYaml } from '../../../src/temporal/temporal-cli.js';
import type { RunCertificates } from './certs.js';
import type { PostgresInfo } from './postgres.js';
import { run, startProcess, waitUntil, type ClusterProcess } from './processes.js';
import { temporalServerConfig, type TemporalPorts } from './temporal-config.js';

/** Binaries and schema from scripts/cluster/install.sh, and the `temporal` CLI from scripts/tools.sh. */
export interface TemporalBinaries {
  server: string;
  sqlTool: string;
  cli: string;
  /** go.temporal.io/server@<version>/schema/postgresql/v12 in the Go module cache. */
  schemaDir: string;
}

/** A Temporal server of one run. `restart()` starts it again on the same ports, config and databases. */
export interface RunningTemporal {
  /** host:port of the frontend (TLS, client certificate required). */
  address: string;
  namespace: string;
  process(): ClusterProcess;
  /** Stops the server: SIGTERM (graceful) by default, SIGKILL to simulate a crash. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  restart(): Promise<void>;
  /** `temporal` CLI arguments that reach this server with the run's client certificate. */
  cliArgs(): string[];
}

/**
 * Creates the `temporal` and `temporal_visibility` databases and brings both to the newest
 * schema version of the server's module, with the server's own SQL tool, as an operator would
 * (`create-database`, `setup-schema -v 0.0`, `update-schema -d <versioned dir>`).
 */
export async function setupSchema(bin: TemporalBinaries, postgres: PostgresInfo): Promise<void> {
  const base = [
    '--plugin',
    'postgres12',
    '--ep',
    postgres.host,
    '-p',
    String(postgres.port),
    '-u',
    postgres.user,
    '--pw',
    postgres.password,
  ];
  await Promise.all(
    (['temporal', 'visibility'] as const).map(async (schema) => {
      const db = schema === 'temporal' ? 'temporal' : 'temporal_visibility';
      const args = [...base, '--db', db];
      await run(bin.sqlTool, [...args, 'create-database']);
      await run(bin.sqlTool, [...args, 'setup-schema', '-v', '0.0']);
      await run(bin.sqlTool, [...args, 'update-schema', '-d', path.join(bin.schemaDir, schema, 'versioned')]);
    }),
  );
}

/** True when 127.0.0.1:port can be bound right now. */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * Free loopback ports below 32768: the SQL schema stores membership ports as SMALLINT, so the
 * kernel's ephemeral ports (32768 and up, what `listen(0)` gives) make the server fail at start
 * ("value out of range for type smallint"). Picked at random in 20000-32767, checked by binding.
 */
async function freePorts(): Promise<TemporalPorts> {
  const names = [
    'frontend',
    'frontendMembership',
    'frontendHttp',
    'history',
    'historyMembership',
    'matching',
    'matchingMembership',
    'worker',
    'workerMembership',
  ] as const;
  const ports: Partial<Record<(typeof names)[number], number>> = {};
  const taken = new Set<number>();
  for (const name of names) {
    for (let attempt = 0; ; attempt++) {
      const port = 20_000 + Math.floor(Math.random() * 12_768);
      if (!taken.has(port) && (await canListen(port))) {
        taken.add(port);
        ports[name] = port;
        break;
      }
      if (attempt > 200) throw new Error('no free loopback port found in 20000-32767');
    }
  }
  return ports as TemporalPorts;
}

/**
 * Writes the run's server config into `dir` and starts `temporal-server start` on it, then creates
 * the namespace (retention 3 days) with `temporal operator namespace create` over mTLS and waits
 * until the frontend serves it. The schema must exist (setupSchema).
 */
export async function startTemporalServer(opts: {
  bin: TemporalBinaries;
  postgres: PostgresInfo;
  certs: RunCertificates;
  dir: string;
  namespace?: string;
}): Promise<RunningTemporal> {
  const { bin, certs, dir } = opts;
  const namespace = opts.namespace ?? 'default';
  const ports = await freePorts();
  const configDir = path.join(dir, 'config');
  await mkdir(configDir, { recursive: true });
  const dynamicConfigFile = path.join(configDir, 'dynamicconfig.yaml');
  // Priority and fairness on, as fetchbox dev runs its server (src/temporal/temporal-cli.ts).
  await writeFile(dynamicConfigFile, dynamicConfigYaml());
  await writeFile(path.join(configDir, 'cluster.yaml'), temporalServerConfig({ ports, postgres: opts.postgres, certs, dynamicConfigFile }));
  const address = `127.0.0.1:${ports.frontend}`;
  const cliArgs = () => [
    '--address',
    address,
    '--tls-ca-path',
    certs.caCert,
    '--tls-cert-path',
    certs.clientCert,
    '--tls-key-path',
    certs.clientKey,
    '--tls-server-name',
    certs.serverName,
  ];
  // The CLI would also read TEMPORAL_* variables and a temporal.toml of this machine: only the flags count.
  const cli = (args: string[]) => run(bin.cli, [...args, ...cliArgs(), '--disable-config-env', '--disable-config-file']);

  let proc: ClusterProcess | undefined;
  const launch = async () => {
    proc = startProcess(
      'temporal-server',
      bin.server,
      ['--root', dir, '--config', 'config', '--env', 'cluster', '--allow-no-auth', 'start'],
      path.join(dir, 'temporal-server.log'),
    );
    await waitUntil('temporal-server', () => cli(['operator', 'cluster', 'health']).then((out) => out.includes('SERVING')), 120_000, proc);
  };
  await launch();
  await waitUntil(
    `namespace ${namespace}`,
    () =>
      cli(['operator', 'namespace', 'create', '--namespace', namespace, '--retention', '72h']).then(
        () => true,
        (err: Error) => err.message.includes('already'),
      ),
    60_000,
    proc,
  );
  // The frontend's namespace cache refreshes every few seconds: wait until calls in it succeed.
  await waitUntil(
    `namespace ${namespace} served`,
    () => cli(['workflow', 'count', '--namespace', namespace]).then(() => true),
    60_000,
    proc,
  );
  return {
    address,
    namespace,
    process: () => proc!,
    async stop(signal = 'SIGTERM') {
      await proc?.stop(signal, 20_000);
    },
    async restart() {
      await proc?.stop('SIGTERM', 20_000);
      await launch();
    },
    cliArgs,
  };
}
