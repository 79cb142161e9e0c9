import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Io } from '../../src/cli/api-client.js';
import { JobsExit, jobsCommand } from '../../src/cli/jobs-command.js';
import { freePort } from '../support/ports.js';
import { startOrigin, type Origin } from '../support/origin.js';
import { serveApp, startStack, uniqueJobId, type Stack } from '../support/stack.js';

let origin: Origin;
let stack: Stack;
let server: { url: string; close(): Promise<void> };
let api: string;
let dir: string;
beforeAll(async () => {
  origin = await startOrigin();
  stack = await startStack('file');
  server = await serveApp(stack.app);
  api = server.url;
  dir = await mkdtemp(path.join(os.tmpdir(), 'fetchbox-cli-'));
});
afterAll(async () => {
  await server?.close();
  await stack?.close();
  await origin?.close();
  await rm(dir, { recursive: true, force: true });
});

/** Runs `fetchbox jobs <args>` against the test API, capturing output. */
async function jobs(args: string[], stdin = ''): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: Io = { out: (t) => void (out += t), err: (t) => void (err += t), stdin: async () => stdin };
  const code = await jobsCommand(args, { FETCHBOX_API_URL: api }, io);
  return { code, out, err };
}

describe('fetchbox jobs', () => {
  it('submits from a file and from stdin, gets, lists, tails and lists resources', async () => {
    const jobId = uniqueJobId('cli');
    const file = path.join(dir, 'manifest.json');
    const manifest = {
      jobId,
      resources: [{ url: `${origin.url}/bytes/10/${jobId}` }, { url: `${origin.url}/status/404/${jobId}`, id: 'gone' }],
    };
    await writeFile(file, JSON.stringify(manifest));
    const submitted = await jobs(['submit', file]);
    expect(submitted).toMatchObject({ code: JobsExit.ok });
    expect(submitted.out).toContain(`submitted: ${jobId}`);
    const again = await jobs(['submit', '-', '--json'], JSON.stringify(manifest));
    expect(again.code).toBe(0);
    expect(JSON.parse(again.out)).toMatchObject({ jobId, status: 'running' });

    const tailed = await jobs(['tail', jobId]);
    expect(tailed.code).toBe(JobsExit.notCompleted); // one resource failed
    expect(tailed.out).toMatch(new RegExp(`${jobId}  completed_with_failures  1/2 ok, 1 failed`));

    const got = await jobs(['get', jobId, '--json']);
    expect(JSON.parse(got.out)).toMatchObject({ jobId, status: 'completed_with_failures' });
    const failed = await jobs(['resources', jobId, '--status', 'failed']);
    expect(failed.out).toMatch(/^gone {2}failed {2}.*\[http_status 404\]/);
    const listed = await jobs(['list', '--status', 'completed_with_failures', '--limit', '1000', '--json']);
    expect(listed.code).toBe(0);
  });

  it('exits 4 with the API error when the API refuses, and 1 when it is unreachable', async () => {
    const bad = await jobs(['submit', '-'], '{"resources": []}');
    expect(bad.code).toBe(JobsExit.refused);
    expect(bad.err).toMatch(/400 invalid_manifest/);
    const missing = await jobs(['get', uniqueJobId('none')]);
    expect(missing.code).toBe(JobsExit.refused);
    expect(missing.err).toMatch(/404 job_not_found/);
    let err = '';
    const io: Io = { out: () => undefined, err: (t) => void (err += t), stdin: async () => '' };
    const down = await jobsCommand(['get', 'x'], { FETCHBOX_API_URL: `http://127.0.0.1:${await freePort()}` }, io);
    expect(down).toBe(JobsExit.unavailable);
    expect(err).toMatch(/cannot reach/);
  });

  it('exits 2 on usage errors', async () => {
    expect((await jobs(['frobnicate'])).code).toBe(JobsExit.usage);
    expect((await jobs(['get'])).code).toBe(JobsExit.usage);
    expect((await jobs(['list', '--bogus'])).code).toBe(JobsExit.usage);
  });
});
