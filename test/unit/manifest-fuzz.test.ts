import type { Client } from '@temporalio/client';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JobService } from '../../src/api/job-service.js';
import { loadConfig } from '../../src/config/load-config.js';
import { HEADER_LIMITS, isRefusedRequestHeader } from '../../src/fetch/header-rules.js';
import { defaultStorageKey } from '../../src/handlers/handler.js';
import { builtInHandlers } from '../../src/handlers/registry.js';
import { jobIdProblem, userKeyProblem } from '../../src/storage/keys.js';
import type { Storage, StoredObject } from '../../src/storage/storage.js';
import type { JobWorkflowInput, ManifestResource } from '../../src/model/job-types.js';
import { testApp } from '../support/app.js';

/**
 * The real validation path (app gate, schema, JobService.submit with hashing and staging) in front
 * of a recording Temporal client and storage: what a workflow would receive is checked directly.
 */
function harness() {
  const started: JobWorkflowInput[] = [];
  const staged: { key: string; value: unknown }[] = [];
  const client = {
    connection: { withDeadline: <T>(_deadline: number, fn: () => Promise<T>) => fn() },
    workflow: {
      start: async (_workflow: unknown, options: { args: [JobWorkflowInput] }) => {
        started.push(options.args[0]);
        return {};
      },
    },
  } as unknown as Client;
  const storage = {
    url: 'memory://',
    putJson: async (key: string, value: unknown): Promise<StoredObject> => {
      staged.push({ key, value });
      return { key, bytes: 0, sha256: '' };
    },
  } as unknown as Storage;
  const jobs = new JobService({ client, storage, handlers: builtInHandlers(), config: loadConfig({}) });
  const app = testApp(jobs);
  return { app, started, staged };
}

const refusedNames = [
  'host',
  'connection',
  'keep-alive',
  'proxy-authorization',
  'proxy-connection',
  'proxy-x',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'content-length',
  'expect',
];
const reservedSegments = ['.fetchbox', '.fetchbox-meta', '.fetchbox-tmp', '.fetchboxx'];

const headerName = fc.oneof(
  fc.mixedCase(fc.constantFrom(...refusedNames)),
  fc.stringMatching(/^[A-Za-z0-9-]{1,16}$/),
  fc.string({ maxLength: 8 }),
  fc.string({ unit: 'grapheme', maxLength: 6 }),
  fc.constantFrom('__proto__', 'constructor', 'X-A\r\nHost', 'X-A:'),
  fc.integer({ min: 1_000, max: 10_000 }).map((n) => 'X'.repeat(n)),
);
const headerValue = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'grapheme', maxLength: 10 }),
  fc.constantFrom('a\r\nHost: evil', 'a\nb', 'a\rb', 'v\u0000', '\u2028'),
  fc.integer({ min: 1_000, max: 9_000 }).map((n) => 'v'.repeat(n)),
  fc.jsonValue({ maxDepth: 2 }),
);
const headers = fc.oneof(
  { weight: 4, arbitrary: fc.dictionary(fc.stringMatching(/^X-[A-Za-z0-9-]{1,12}$/), fc.stringMatching(/^[ -~]{0,40}$/), { maxKeys: 4 }) },
  fc.dictionary(headerName, headerValue, { maxKeys: 6 }),
  fc.integer({ min: 30, max: 40 }).map((n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`X-${i}`, 'v']))),
  fc.jsonValue({ maxDepth: 2 }),
);
const segment = fc.oneof(
  fc.mixedCase(fc.constantFrom(...reservedSegments)),
  fc.constantFrom('.', '..', '...', '', 'a\\b', '．ｆｅｔｃｈｂｏｘ', 'manifest.json', 'pages'),
  fc.stringMatching(/^[a-z0-9._-]{1,10}$/),
  fc.string({ unit: 'grapheme', maxLength: 6 }),
);
const key = fc.oneof(
  { weight: 3, arbitrary: fc.stringMatching(/^[a-z0-9_-]{1,10}(\/[a-z0-9._-]{1,10}){0,3}$/) },
  fc.array(segment, { minLength: 1, maxLength: 5 }).map((parts) => parts.join('/')),
  fc
    .tuple(fc.stringMatching(/^[a-z]{1,8}$/), fc.stringMatching(/^[0-9a-f]{16}$/))
    .map(([job, hash]) => `${job}/.fetchbox/${hash}/pages/000000.json`),
  fc.constantFrom('x'.repeat(1025), `/${'a'}`, 'a/../../.fetchbox-meta/x.json'),
);
const jobId = fc.oneof(
  { weight: 3, arbitrary: fc.stringMatching(/^[a-z0-9-]{1,20}$/) },
  fc.mixedCase(fc.constantFrom(...reservedSegments)),
  fc.constantFrom('.', '..', '...', '....', '.a', 'a..'),
  fc.stringMatching(/^[A-Za-z0-9._:-]{1,20}$/),
  fc.string({ maxLength: 140 }),
  fc.string({ unit: 'grapheme', maxLength: 10 }),
);
const nested = (depth: number): unknown => {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = i % 2 ? [value] : { a: value };
  return value;
};
const metadata = fc.oneof(
  { weight: 3, arbitrary: fc.object({ maxDepth: 3 }) },
  fc.integer({ min: 1, max: 200 }).map((depth) => ({ deep: nested(depth) })),
  fc.integer({ min: 60_000, max: 200_000 }).map((n) => ({ big: 's'.repeat(n) })),
  fc.constantFrom(
    { ['__proto__']: { polluted: true } },
    { constructor: { prototype: { x: 1 } } },
    { list: Array.from({ length: 10_000 }, (_, i) => i) },
  ),
  fc.jsonValue({ maxDepth: 2 }),
);
const resource = fc.record(
  {
    url: fc.oneof({ weight: 4, arbitrary: fc.constant('http://x.test/a.jpg') }, fc.webUrl(), fc.string({ maxLength: 20 })),
    id: fc.oneof(fc.uuid(), fc.string({ maxLength: 12 }), fc.constantFrom('.fetchbox', '../.fetchbox-meta/x', 'manifest.json')),
    key,
    headers,
  },
  { requiredKeys: ['url'] },
);
const manifest = fc.record(
  { jobId, metadata, resources: fc.array(resource, { minLength: 0, maxLength: 3 }), handler: fc.constantFrom('default', 'link-expander') },
  { requiredKeys: ['resources'] },
);

/** What an accepted job may carry: only keys outside the reserved area, bounded headers and metadata. */
function checkAccepted(input: JobWorkflowInput, resources: readonly ManifestResource[]): void {
  expect(jobIdProblem(input.jobId)).toBeUndefined();
  for (const r of resources) {
    expect(userKeyProblem(defaultStorageKey(r, { jobId: input.jobId }))).toBeUndefined();
    const entries = Object.entries(r.headers ?? {});
    expect(entries.length).toBeLessThanOrEqual(HEADER_LIMITS.maxCount);
    expect(entries.reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0)).toBeLessThanOrEqual(HEADER_LIMITS.maxBytes);
    for (const [name, value] of entries) {
      expect(isRefusedRequestHeader(name)).toBe(false);
      expect(value).not.toMatch(/[\r\n]/);
    }
  }
}

describe('manifest fuzzer (fast-check) through POST /jobs', () => {
  it('never answers 5xx, answers the contract error shape, small, and accepts only keys outside the reserved area', async () => {
    const { app, started, staged } = harness();
    const counts = { accepted: 0, refused: 0 };
    const deadline = performance.now() + 30_000;
    await fc.assert(
      fc.asyncProperty(manifest, async (m) => {
        const before = started.length;
        const res = await app.request('/jobs', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(m),
        });
        const text = await res.text();
        expect(res.status, text.slice(0, 300)).toBeLessThan(500);
        expect(Buffer.byteLength(text)).toBeLessThan(64 * 1024);
        const body = JSON.parse(text) as { error?: { code: string; message: string; details?: { path: string; message: string }[] } };
        if (res.status === 202 || res.status === 200) {
          counts.accepted++;
          expect(started.length).toBe(before + 1);
          const input = started.at(-1)!;
          const resources =
            input.manifest.inline?.resources ??
            staged.filter((s) => s.key.startsWith(`${input.manifest.prefix}/pages/`)).flatMap((s) => s.value as ManifestResource[]);
          checkAccepted(input, resources);
          expect(Buffer.byteLength(JSON.stringify(input.manifest.inline?.document.metadata ?? {}))).toBeLessThanOrEqual(64 * 1024);
          return;
        }
        counts.refused++;
        expect(started.length).toBe(before);
        expect([400, 413]).toContain(res.status);
        expect(['invalid_manifest', 'payload_too_large']).toContain(body.error?.code);
        expect(typeof body.error?.message).toBe('string');
        if (body.error?.details !== undefined) {
          expect(body.error.details.length).toBeLessThanOrEqual(100);
          for (const d of body.error.details) expect(d).toEqual({ path: expect.any(String), message: expect.any(String) });
        }
      }),
      { numRuns: 300, interruptAfterTimeLimit: 60_000 },
    );
    expect(performance.now()).toBeLessThan(deadline + 30_000);
    expect(counts.refused).toBeGreaterThan(0);
    expect(counts.accepted).toBeGreaterThan(0); // the generators reach both sides
    expect((await app.request('/healthz')).status).toBe(200); // and the API keeps answering
  });

  it('accepted manifests keep metadata keys as sent, __proto__ included, without touching prototypes', async () => {
    const { app, started } = harness();
    const body = '{"metadata":{"__proto__":{"polluted":true},"a":1},"resources":[{"url":"http://x.test/a"}]}';
    const res = await app.request('/jobs', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(res.status).toBe(202);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const metadata = started[0]!.manifest.inline!.document.metadata as Record<string, unknown>;
    expect(Object.getPrototypeOf(metadata)).toBe(Object.prototype);
    expect(Object.keys(metadata)).toEqual(['__proto__', 'a']);
  });
});
