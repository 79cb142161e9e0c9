import { existsSync, readFileSync } from 'node:fs';
import { loadClientConfigProfile, toClientOptions, type ClientConfigProfile, type ConfigDataSource } from '@temporalio/envconfig';
import type { TLSConfig } from '@temporalio/client';
import type { Config } from '../config/config-schema.js';

/**
 * A Temporal connection setting that cannot be used (unreadable TLS file, unknown profile, bad
 * temporal.toml). `setting` names the variable or profile key, so the CLI can say what to fix and
 * exit with the configuration exit code instead of a stack trace.
 */
export class TemporalSettingsError extends Error {
  override readonly name = 'TemporalSettingsError';
  constructor(
    message: string,
    readonly setting: string,
  ) {
    super(`${setting}: ${message}`);
  }
}

/**
 * What both `Connection` (client) and `NativeConnection` (worker) take, so the API, the worker
 * and its client connect with the same address, TLS, API key and gRPC metadata.
 */
export interface TemporalConnectionOptions {
  address: string;
  tls?: TLSConfig | boolean;
  apiKey?: string;
  metadata?: Record<string, string>;
}

/**
 * The environment as envconfig reads it. An empty variable counts as unset, as for every other
 * FetchBox setting (`TEMPORAL_API_KEY=` must not turn TLS on); TEMPORAL_GRPC_META_* keep theirs,
 * where empty removes a header set by the profile.
 */
function envconfigEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    if (value === '' && !name.startsWith('TEMPORAL_GRPC_META_')) continue;
    out[name] = value;
  }
  return out;
}

/** Runs an envconfig load, naming the variable to fix when it fails. */
function loadProfile(env: NodeJS.ProcessEnv, disableEnv: boolean): ClientConfigProfile {
  if (env.TEMPORAL_CONFIG_FILE === '') {
    // An empty TEMPORAL_CONFIG_FILE reads no file (`fetchbox dev` sets it: it runs its own server).
    return disableEnv ? {} : loadClientConfigProfile({ disableFile: true, overrideEnvVars: envconfigEnv(env) });
  }
  if (env.TEMPORAL_CONFIG_FILE && !existsSync(env.TEMPORAL_CONFIG_FILE)) {
    throw new TemporalSettingsError(`${env.TEMPORAL_CONFIG_FILE} does not exist`, 'TEMPORAL_CONFIG_FILE');
  }
  try {
    return loadClientConfigProfile({ disableEnv, overrideEnvVars: envconfigEnv(env) });
  } catch (err) {
    const message = (err as Error).message.split('\n')[0]!;
    throw new TemporalSettingsError(message, /^Profile '/.test(message) ? 'TEMPORAL_PROFILE' : 'TEMPORAL_CONFIG_FILE (temporal.toml)');
  }
}

/**
 * The temporal.toml profile alone (TEMPORAL_CONFIG_FILE, else ~/.config/temporalio/temporal.toml;
 * profile TEMPORAL_PROFILE, else `default`), without environment overrides. loadConfig takes the
 * address and namespace from it when neither FETCHBOX_CONFIG nor TEMPORAL_ADDRESS/NAMESPACE set them.
 */
export function temporalProfileFromFile(env: NodeJS.ProcessEnv = process.env): ClientConfigProfile {
  return loadProfile(env, true);
}

/** The full envconfig profile: temporal.toml with TEMPORAL_* variables over it (envconfig's order). */
export function temporalProfile(env: NodeJS.ProcessEnv = process.env): ClientConfigProfile {
  return loadProfile(env, false);
}

const TLS_SOURCES = [
  { key: 'serverCACert', env: 'TEMPORAL_TLS_SERVER_CA_CERT', toml: 'server_ca_cert' },
  { key: 'clientCert', env: 'TEMPORAL_TLS_CLIENT_CERT', toml: 'client_cert' },
  { key: 'clientKey', env: 'TEMPORAL_TLS_CLIENT_KEY', toml: 'client_key' },
] as const;

/** Where a TLS value came from: the variable when set, else the profile key. */
function tlsSettingName(env: NodeJS.ProcessEnv, source: (typeof TLS_SOURCES)[number], kind: 'path' | 'data'): string {
  const name = `${source.env}_${kind.toUpperCase()}`;
  return env[name] ? name : `temporal.toml profile ${env.TEMPORAL_PROFILE || 'default'} tls.${source.toml}_${kind}`;
}

/**
 * Checks the profile's TLS files before envconfig reads them, so a wrong path is reported as the
 * setting to fix. A client certificate without its key (or the reverse) is refused: envconfig
 * would silently connect without a client certificate and the server would refuse the handshake.
 */
function checkTls(profile: ClientConfigProfile, env: NodeJS.ProcessEnv): void {
  const tls = profile.tls;
  if (!tls || tls.disabled) return;
  for (const source of TLS_SOURCES) {
    const value: ConfigDataSource | undefined = tls[source.key];
    if (!value || !('path' in value)) continue;
    try {
      readFileSync(value.path);
    } catch (err) {
      throw new TemporalSettingsError(
        `cannot read ${value.path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        tlsSettingName(env, source, 'path'),
      );
    }
  }
  if (Boolean(tls.clientCert) !== Boolean(tls.clientKey)) {
    const missing = tls.clientCert ? TLS_SOURCES[2] : TLS_SOURCES[1];
    throw new TemporalSettingsError('a client certificate and its key go together (mTLS); set both or neither', `${missing.env}_PATH`);
  }
}

/**
 * Connection options for every FetchBox connection to Temporal, from `@temporalio/envconfig`:
 * TLS, API key and gRPC metadata from the temporal.toml profile and TEMPORAL_* variables; the
 * address is `config.temporal.address`, which loadConfig already resolved (TEMPORAL_ADDRESS, then
 * FETCHBOX_CONFIG, then the profile, then 127.0.0.1:7233). An API key turns TLS on unless
 * TEMPORAL_TLS=false, as envconfig does. Reads the TLS files: call at start, before serving.
 */
export function temporalConnectionOptions(
  config: Pick<Config, 'temporal'>,
  env: NodeJS.ProcessEnv = process.env,
): TemporalConnectionOptions {
  const profile = temporalProfile(env);
  checkTls(profile, env);
  const { connectionOptions } = toClientOptions(profile);
  const metadata = profile.grpcMeta;
  return {
    address: config.temporal.address,
    ...(connectionOptions.tls !== undefined && connectionOptions.tls !== null ? { tls: connectionOptions.tls } : {}),
    ...(connectionOptions.apiKey ? { apiKey: connectionOptions.apiKey as string } : {}),
    ...(metadata && Object.keys(metadata).length > 0 ? { metadata } : {}),
  };
}

/** A one-line description for logs: never the key or certificate contents. */
export function describeConnection(options: TemporalConnectionOptions): Record<string, unknown> {
  const tls = options.tls;
  return {
    address: options.address,
    tls: tls === undefined || tls === false ? false : tls === true ? true : tls.clientCertPair ? 'mtls' : true,
    apiKey: options.apiKey !== undefined,
  };
}
