import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/load-config.js';
import { temporalConnectionOptions, TemporalSettingsError } from '../../src/temporal/connection-options.js';

// Environment combinations → the options every FetchBox connection to Temporal uses. The env is
// passed explicitly (no HOME), so no temporal.toml of the machine running the tests is read.

let dir: string;
let ca: string;
let cert: string;
let key: string;
let toml: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'fetchbox-envconfig-'));
  ca = path.join(dir, 'ca.pem');
  cert = path.join(dir, 'client.pem');
  key = path.join(dir, 'client.key');
  await writeFile(ca, 'CA-PEM');
  await writeFile(cert, 'CERT-PEM');
  await writeFile(key, 'KEY-PEM');
  toml = path.join(dir, 'temporal.toml');
  await writeFile(
    toml,
    [
      '[profile.default]',
      'address = "default.example:7233"',
      'namespace = "from-default"',
      '',
      '[profile.cluster]',
      'address = "cluster.example:7233"',
      'namespace = "from-cluster"',
      '[profile.cluster.tls]',
      `server_ca_cert_path = "${ca}"`,
      `client_cert_path = "${cert}"`,
      `client_key_path = "${key}"`,
      'server_name = "frontend.cluster"',
      '[profile.cluster.grpc_meta]',
      'x-team = "crawl"',
      '',
      '[profile.broken]',
      'address = "broken.example:7233"',
      '[profile.broken.tls]',
      `client_cert_path = "${path.join(dir, 'missing.pem')}"`,
      `client_key_path = "${key}"`,
    ].join('\n'),
  );
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** What `fetchbox worker` and `fetchbox api` would connect with for this environment. */
function optionsFor(env: Record<string, string>) {
  return temporalConnectionOptions(loadConfig(env), env);
}

describe('Temporal connection settings (@temporalio/envconfig)', () => {
  it('defaults to a plain connection to 127.0.0.1:7233, namespace default', () => {
    expect(optionsFor({})).toEqual({ address: '127.0.0.1:7233' });
    expect(loadConfig({}).temporal.namespace).toBe('default');
  });

  it('an API key turns TLS on, unless TEMPORAL_TLS=false', () => {
    expect(optionsFor({ TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233', TEMPORAL_API_KEY: 'secret' })).toEqual({
      address: 'ns.acct.tmprl.cloud:7233',
      apiKey: 'secret',
      tls: true,
    });
    expect(optionsFor({ TEMPORAL_API_KEY: 'secret', TEMPORAL_TLS: 'false' })).toMatchObject({ apiKey: 'secret', tls: false });
    expect(optionsFor({ TEMPORAL_API_KEY: '' })).toEqual({ address: '127.0.0.1:7233' }); // empty = unset
  });

  it('reads the CA, client certificate and key named by TEMPORAL_TLS_* (mTLS)', () => {
    const options = optionsFor({
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: ca,
      TEMPORAL_TLS_CLIENT_CERT_PATH: cert,
      TEMPORAL_TLS_CLIENT_KEY_PATH: key,
      TEMPORAL_TLS_SERVER_NAME: 'frontend.local',
    });
    expect(options.tls).toMatchObject({ serverNameOverride: 'frontend.local' });
    const tls = options.tls as { serverRootCACertificate: Uint8Array; clientCertPair: { crt: Uint8Array; key: Uint8Array } };
    expect(Buffer.from(tls.serverRootCACertificate).toString()).toBe('CA-PEM');
    expect(Buffer.from(tls.clientCertPair.crt).toString()).toBe('CERT-PEM');
    expect(Buffer.from(tls.clientCertPair.key).toString()).toBe('KEY-PEM');
  });

  it('TEMPORAL_TLS=true alone is server-verified TLS with the system roots', () => {
    expect(optionsFor({ TEMPORAL_TLS: 'true' }).tls).toMatchObject({ serverRootCACertificate: undefined, clientCertPair: undefined });
  });

  it('takes a temporal.toml profile (TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE) with its TLS and gRPC metadata', () => {
    const env = { TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'cluster' };
    const config = loadConfig(env);
    expect(config.temporal).toMatchObject({ address: 'cluster.example:7233', namespace: 'from-cluster' });
    const options = temporalConnectionOptions(config, env);
    expect(options).toMatchObject({
      address: 'cluster.example:7233',
      metadata: { 'x-team': 'crawl' },
      tls: { serverNameOverride: 'frontend.cluster' },
    });
    expect(Buffer.from((options.tls as { clientCertPair: { crt: Uint8Array } }).clientCertPair.crt).toString()).toBe('CERT-PEM');
    // Without TEMPORAL_PROFILE, the file's `default` profile.
    expect(loadConfig({ TEMPORAL_CONFIG_FILE: toml }).temporal).toMatchObject({
      address: 'default.example:7233',
      namespace: 'from-default',
    });
  });

  it('precedence: TEMPORAL_* variables, then FETCHBOX_CONFIG temporal.*, then the profile', async () => {
    const fileConfig = path.join(dir, 'fetchbox.yaml');
    await writeFile(fileConfig, 'temporal:\n  address: file.example:7233\n');
    const env = { TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'cluster', FETCHBOX_CONFIG: fileConfig };
    expect(loadConfig(env).temporal).toMatchObject({ address: 'file.example:7233', namespace: 'from-cluster' });
    expect(optionsFor({ ...env, TEMPORAL_ADDRESS: 'env.example:7233' }).address).toBe('env.example:7233');
    expect(loadConfig({ ...env, TEMPORAL_NAMESPACE: 'from-env' }).temporal.namespace).toBe('from-env');
    // A variable overrides one TLS field of the profile, the others stay.
    const tls = optionsFor({ ...env, TEMPORAL_TLS_SERVER_NAME: 'override' }).tls as {
      serverNameOverride: string;
      clientCertPair?: unknown;
    };
    expect(tls.serverNameOverride).toBe('override');
    expect(tls.clientCertPair).toBeDefined();
  });

  it('an unreadable TLS file is a settings error naming the variable or profile key', () => {
    const missing = path.join(dir, 'nope.pem');
    expect(() => optionsFor({ TEMPORAL_TLS_CLIENT_CERT_PATH: missing, TEMPORAL_TLS_CLIENT_KEY_PATH: key })).toThrow(
      new TemporalSettingsError(`cannot read ${missing}: ENOENT`, 'TEMPORAL_TLS_CLIENT_CERT_PATH'),
    );
    expect(() => optionsFor({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: missing })).toThrow(/^TEMPORAL_TLS_SERVER_CA_CERT_PATH: cannot read/);
    expect(() => optionsFor({ TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'broken' })).toThrow(
      /^temporal\.toml profile broken tls\.client_cert_path: cannot read/,
    );
  });

  it('a client certificate without its key is refused (mTLS needs both)', () => {
    expect(() => optionsFor({ TEMPORAL_TLS_CLIENT_CERT_PATH: cert })).toThrow(
      /^TEMPORAL_TLS_CLIENT_KEY_PATH: a client certificate and its key go together/,
    );
  });

  it('an unknown profile or a missing TEMPORAL_CONFIG_FILE stops loadConfig with a ConfigError naming it', () => {
    const unknown = () => loadConfig({ TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'nope' });
    expect(unknown).toThrow(ConfigError);
    expect(unknown).toThrow(/TEMPORAL_PROFILE: Profile 'nope' not found/);
    expect(() => loadConfig({ TEMPORAL_CONFIG_FILE: path.join(dir, 'absent.toml') })).toThrow(
      /TEMPORAL_CONFIG_FILE: .*absent\.toml does not exist/,
    );
  });

  it('an empty TEMPORAL_CONFIG_FILE reads no file, not even ~/.config/temporalio/temporal.toml', async () => {
    const home = path.join(dir, 'home');
    await mkdir(path.join(home, '.config', 'temporalio'), { recursive: true });
    await writeFile(path.join(home, '.config', 'temporalio', 'temporal.toml'), '[profile.default]\naddress = "home.example:7233"\n');
    expect(loadConfig({ HOME: home }).temporal.address).toBe('home.example:7233');
    expect(loadConfig({ HOME: home, TEMPORAL_CONFIG_FILE: '' }).temporal.address).toBe('127.0.0.1:7233');
  });
});
