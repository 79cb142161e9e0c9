import { stringify } from 'yaml';
import type { RunCertificates } from './certs.js';
import type { PostgresInfo } from './postgres.js';

/** Loopback ports of the Temporal server's four services (gRPC and membership each). */
export interface TemporalPorts {
  frontend: number;
  frontendMembership: number;
  frontendHttp: number;
  history: number;
  historyMembership: number;
  matching: number;
  matchingMembership: number;
  worker: number;
  workerMembership: number;
}

/** What the server config of a run is made of. */
export interface TemporalConfigInput {
  ports: TemporalPorts;
  postgres: PostgresInfo;
  certs: RunCertificates;
  dynamicConfigFile: string;
  /** History shards are fixed at the first start of a cluster; 4 suits one machine. */
  numHistoryShards?: number;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
}

function sqlStore(postgres: PostgresInfo, databaseName: string, maxConns: number) {
  return {
    sql: {
      pluginName: 'postgres12',
      databaseName,
      connectAddr: `${postgres.host}:${postgres.port}`,
      connectProtocol: 'tcp',
      user: postgres.user,
      password: postgres.password,
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  };
}

function service(grpcPort: number, membershipPort: number, extra: Record<string, number> = {}) {
  return { rpc: { grpcPort, membershipPort, bindOnLocalHost: true, ...extra } };
}

/**
 * The Temporal server config (`--env` file) of a run, after the server's own
 * config/development-postgres12.yaml: persistence and SQL visibility on PostgreSQL, every service
 * on loopback, and TLS on the frontend that requires a client certificate signed by the run's CA
 * (mTLS). Temporal's system worker presents the run's client certificate to its own frontend.
 * Internode traffic stays plaintext on loopback; archival is off.
 */
export function temporalServerConfig(input: TemporalConfigInput): string {
  const { ports, postgres, certs } = input;
  const config = {
    log: { stdout: true, level: input.logLevel ?? 'warn' },
    persistence: {
      defaultStore: 'postgres-default',
      visibilityStore: 'postgres-visibility',
      numHistoryShards: input.numHistoryShards ?? 4,
      datastores: {
        'postgres-default': sqlStore(postgres, 'temporal', 20),
        'postgres-visibility': sqlStore(postgres, 'temporal_visibility', 10),
      },
    },
    global: {
      membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' },
      tls: {
        frontend: {
          server: {
            certFile: certs.serverCert,
            keyFile: certs.serverKey,
            requireClientAuth: true,
            clientCaFiles: [certs.caCert],
          },
          client: { serverName: certs.serverName, rootCaFiles: [certs.caCert] },
        },
        systemWorker: {
          certFile: certs.clientCert,
          keyFile: certs.clientKey,
          client: { serverName: certs.serverName, rootCaFiles: [certs.caCert] },
        },
      },
    },
    services: {
      frontend: service(ports.frontend, ports.frontendMembership, { httpPort: ports.frontendHttp }),
      history: service(ports.history, ports.historyMembership),
      matching: service(ports.matching, ports.matchingMembership),
      worker: service(ports.worker, ports.workerMembership),
    },
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: {
        active: { enabled: true, initialFailoverVersion: 1, rpcName: 'frontend', rpcAddress: `localhost:${ports.frontend}` },
      },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } },
    namespaceDefaults: { archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } } },
    dynamicConfigClient: { filepath: input.dynamicConfigFile, pollInterval: '10s' },
  };
  return stringify(config);
}
