import { describe, expect, it } from 'vitest';
import { parseTokens } from '../../src/api/auth.js';
import type { JobService } from '../../src/api/job-service.js';
import { fairnessKeyOf, JobPriority, retryPriority, startPriority } from '../../src/api/submit/job-priority.js';
import { manifestHash } from '../../src/api/submit/manifest-hash.js';
import { ManifestSchema } from '../../src/api/submit/manifest-schema.js';
import { ConfigError, loadConfig } from '../../src/config/load-config.js';
import { DEV_SERVER_DYNAMIC_CONFIG, dynamicConfigFlags, dynamicConfigYaml } from '../../src/temporal/temporal-cli.js';
import { parse as parseYaml } from 'yaml';
import { testApp } from '../support/app.js';

// Issue 23 item 4: the manifest's `priority`, its place in the idempotency hash, the operator's
// fairness weights, token names as fairness keys, and the server settings that turn it all on.

const url = 'https://example.test/a.jpg';

describe('manifest priority', () => {
  it.each([1, 2, 3, 4, 5])('accepts priority %d', (priority) => {
    expect(ManifestSchema.safeParse({ priority, resources: [{ url }] }).success).toBe(true);
  });

  it('is optional and stays absent when not given (the default, 3, is applied at start)', () => {
    const parsed = ManifestSchema.parse({ resources: [{ url }] });
    expect(parsed.priority).toBeUndefined();
    expect(startPriority(parsed.priority, 'peer:127.0.0.1', {}).priorityKey).toBe(JobPriority.default);
  });

  const app = testApp(
    new Proxy({} as JobService, {
      get(_t, prop) {
        if (prop === 'temporalUiUrl') return () => 'http://ui';
        throw new Error(`job service called (${String(prop)}) for a manifest that should have been refused`);
      },
    }),
    { bodyLimitBytes: 1024 },
  );

  it.each([0, 6, 2.5, '1', null, -1])('400 invalid_manifest naming priority for %j', async (priority) => {
    const res = await app.request('/jobs', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ priority, resources: [{ url }] }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; details: { path: string }[] } };
    expect(body.error.code).toBe('invalid_manifest');
    expect(body.error.details.map((d) => d.path)).toEqual(['priority']);
  });

  it('is in the OpenAPI document: an integer 1 to 5, default 3', async () => {
    const doc = (await (await app.request('/openapi.json')).json()) as any;
    expect(doc.components.schemas.Manifest.properties.priority).toMatchObject({ type: 'integer', minimum: 1, maximum: 5, default: 3 });
    expect(doc.components.schemas.Manifest.required ?? []).not.toContain('priority');
  });
});

describe('the manifest hash and priority', () => {
  const resources = [{ id: '0', url }];

  it('keeps the hash every manifest without priority had before priorities', () => {
    // Computed by the code before this change: resubmitting an old manifest still answers 200, not 409.
    expect(manifestHash('default', { source: 'c' }, resources)).toBe('c753c1fc7c44d6293b4d8bc7488694df4860daf0451d8ea5d54d89611a3cb081');
    expect(manifestHash('default', { source: 'c' }, resources, undefined, undefined)).toBe(
      manifestHash('default', { source: 'c' }, resources),
    );
  });

  it('counts priority when given: another priority, or one given against none, is another manifest', () => {
    const none = manifestHash('default', undefined, resources);
    const p1 = manifestHash('default', undefined, resources, undefined, 1);
    expect(p1).not.toBe(none);
    expect(manifestHash('default', undefined, resources, undefined, 3)).not.toBe(none);
    expect(manifestHash('default', undefined, resources, undefined, 2)).not.toBe(p1);
    expect(manifestHash('default', undefined, resources, undefined, 1)).toBe(p1);
  });
});

describe('FETCHBOX_FAIRNESS_WEIGHTS', () => {
  it('parses key=weight pairs; a key may hold ":" (token:<n>, peer:<address>)', () => {
    const config = loadConfig({ FETCHBOX_FAIRNESS_WEIGHTS: 'crawler-a=2, crawler-b=1,token:3=0.5,peer:127.0.0.1=1000' });
    expect(config.api.fairnessWeights).toEqual({ 'crawler-a': 2, 'crawler-b': 1, 'token:3': 0.5, 'peer:127.0.0.1': 1000 });
  });

  it('is empty by default: every client weighs 1', () => {
    expect(loadConfig({}).api.fairnessWeights).toEqual({});
  });

  it.each([
    ['no weight', 'crawler-a'],
    ['an empty weight', 'crawler-a='],
    ['no key', '=2'],
    ['a zero weight', 'crawler-a=0'],
    ['a negative weight', 'crawler-a=-1'],
    ['a weight over 1000', 'crawler-a=1001'],
    ['a weight that is not a number', 'crawler-a=heavy'],
    ['a key over 64 bytes', `${'k'.repeat(65)}=2`],
  ])('refuses %s, naming the setting', (_name, value) => {
    expect(() => loadConfig({ FETCHBOX_FAIRNESS_WEIGHTS: value })).toThrow(ConfigError);
    expect(() => loadConfig({ FETCHBOX_FAIRNESS_WEIGHTS: value })).toThrow(/FETCHBOX_FAIRNESS_WEIGHTS|api\.fairnessWeights/);
  });
});

describe('the priority a job starts with', () => {
  it('is the manifest priority, the client as fairness key and its configured weight', () => {
    expect(startPriority(1, 'crawler-a', { 'crawler-a': 2 })).toEqual({ priorityKey: 1, fairnessKey: 'crawler-a', fairnessWeight: 2 });
    expect(startPriority(undefined, 'token:2', { 'crawler-a': 2 })).toEqual({ priorityKey: 3, fairnessKey: 'token:2' });
    // An inherited property name is not a weight.
    expect(startPriority(5, 'constructor', {})).toEqual({ priorityKey: 5, fairnessKey: 'constructor' });
  });

  it('cuts a fairness key to 64 bytes (Temporal refuses longer)', () => {
    const key = fairnessKeyOf(`peer:${'f'.repeat(80)}`);
    expect(Buffer.byteLength(key)).toBe(64);
    expect(fairnessKeyOf('crawler-a')).toBe('crawler-a');
  });

  it('a retry keeps the run priority and fairness key, with the weight configured now', () => {
    expect(retryPriority({ priorityKey: 1, fairnessKey: 'crawler-a', fairnessWeight: 2 }, { 'crawler-a': 4 })).toEqual({
      priorityKey: 1,
      fairnessKey: 'crawler-a',
      fairnessWeight: 4,
    });
    expect(retryPriority({ priorityKey: 5, fairnessKey: 'crawler-b', fairnessWeight: 2 }, {})).toEqual({
      priorityKey: 5,
      fairnessKey: 'crawler-b',
    });
    // A job started before priorities: the default level, no fairness key (Temporal's empty key).
    expect(retryPriority({ priorityKey: 0, fairnessKey: '', fairnessWeight: 0 }, {})).toEqual({ priorityKey: 3 });
    expect(retryPriority(undefined, {})).toEqual({ priorityKey: 3 });
  });
});

describe('named tokens', () => {
  it('name@scopes=token names the client; unnamed entries stay token:<n>', () => {
    const tokens = parseTokens(['crawler-a@ingest=T1', 'ingest=T2', 'T3', 'ops.team_1@operator+read=T4']);
    expect(tokens.map((t) => t.id)).toEqual(['crawler-a', 'token:2', 'token:3', 'ops.team_1']);
    expect([...tokens[0]!.scopes]).toEqual(['ingest']);
    expect([...tokens[3]!.scopes]).toEqual(['operator', 'read']);
  });

  it('entries of one name are one client (a rotated token); one token keeps its first identity', () => {
    const tokens = parseTokens(['crawler-a@ingest=old', 'crawler-a@ingest=new', 'ingest=old']);
    expect(tokens.map((t) => t.id)).toEqual(['crawler-a', 'crawler-a', 'crawler-a']);
  });

  it.each([
    ['a space', 'crawler a@ingest=T'],
    ['a colon (token:<n> and peer:<address> are reserved)', 'token:1@ingest=T'],
    ['over 64 characters', `${'n'.repeat(65)}@ingest=T`],
  ])('refuses a name with %s, naming the entry and not the token', (_name, entry) => {
    expect(() => parseTokens([entry])).toThrow(/entry 1: a token name/);
    expect(() => parseTokens([entry])).not.toThrow(/=T/);
  });

  it('refuses an unknown scope after a name', () => {
    expect(() => parseTokens(['crawler-a@bogus=T'])).toThrow(/entry 1: unknown scope bogus/);
  });
});

describe('the Temporal server settings priority and fairness need', () => {
  it('turn on the priority matcher and fairness, as flags for the dev server and as a dynamic config file', () => {
    expect(DEV_SERVER_DYNAMIC_CONFIG).toMatchObject({ 'matching.useNewMatcher': true, 'matching.enableFairness': true });
    const flags = dynamicConfigFlags();
    expect(flags).toContain('matching.enableFairness=true');
    expect(flags).toContain('matching.useNewMatcher=true');
    expect(flags).toContain('matching.numTaskqueueReadPartitions=1');
    expect(flags.filter((f) => f === '--dynamic-config-value')).toHaveLength(flags.length / 2);
    expect(parseYaml(dynamicConfigYaml())).toEqual({
      'matching.useNewMatcher': [{ value: true, constraints: {} }],
      'matching.enableFairness': [{ value: true, constraints: {} }],
    });
  });
});
