import { describe, expect, it } from 'vitest';
import type { JobService } from '../../src/api/job-service.js';
import { testApp } from '../support/app.js';

// Contract v1.1: "the OpenAPI document served at /openapi.json must match it". Read from the served
// document as a client would: every route of the contract's table with its success answer.

const app = testApp({} as JobService, { bodyLimitBytes: 1024 });

interface Operation {
  responses: Record<string, { headers?: Record<string, unknown>; content?: Record<string, unknown> }>;
  parameters?: { name: string; in: string }[];
}

async function openApi(): Promise<{ openapi: string; paths: Record<string, Record<string, Operation>> }> {
  const res = await app.request('/openapi.json');
  expect(res.status).toBe(200);
  return (await res.json()) as never;
}

/** The contract's table: method, path, success statuses, the success answer's media type, query parameters. */
const CONTRACT_ROUTES = [
  ['post', '/jobs', ['202', '200'], 'application/json', []],
  ['get', '/jobs/{jobId}', ['200'], 'application/json', []],
  ['get', '/jobs/{jobId}/resources', ['200'], 'application/json', ['status', 'limit', 'cursor']],
  ['post', '/jobs/{jobId}/retry', ['202'], 'application/json', []],
  ['post', '/jobs/{jobId}/cancel', ['202'], 'application/json', []],
  ['get', '/jobs', ['200'], 'application/json', ['status', 'handler', 'limit', 'cursor']],
  ['get', '/jobs/{jobId}/events', ['200'], 'text/event-stream', []],
  ['get', '/healthz', ['200'], 'application/json', []],
  ['get', '/readyz', ['200', '503'], 'application/json', []],
  ['get', '/metrics', ['200'], 'text/plain', []],
  ['get', '/failures', ['200'], 'application/json', ['since', 'until', 'handler', 'kind', 'host', 'limit', 'cursor']],
  ['post', '/retries', ['202'], 'application/json', []],
  ['get', '/openapi.json', ['200'], 'application/json', []],
] as const;

describe('/openapi.json against the contract', () => {
  it('is OpenAPI 3.1', async () => {
    expect((await openApi()).openapi).toMatch(/^3\.1\./);
  });

  it.each(CONTRACT_ROUTES)('lists %s %s with its success answers and query parameters', async (method, path, statuses, media, query) => {
    const op = (await openApi()).paths[path]?.[method];
    expect(op, `${method} ${path}`).toBeDefined();
    for (const status of statuses) expect(Object.keys(op!.responses[status]?.content ?? {})).toContain(media);
    const params = (op!.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
    expect(params).toEqual(expect.arrayContaining([...query]));
  });

  it('declares the Location header of POST /jobs answers (202 and 200)', async () => {
    const op = (await openApi()).paths['/jobs']!.post!;
    expect(Object.keys(op.responses['202']!.headers ?? {})).toContain('Location');
    expect(Object.keys(op.responses['200']!.headers ?? {})).toContain('Location');
  });
});
