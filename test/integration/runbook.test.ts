import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { projectRoot } from '../../src/temporal/temporal-cli.js';
import { startOrigin, type Origin } from '../support/origin.js';
import { serveApp, startStack, type Stack } from '../support/stack.js';

// The runbook's shell blocks marked `<!-- safe -->` run as written against a real stack with the
// job they talk about (readme-0001, one resource failed), so the commands cannot rot.
const runbook = readFileSync(path.join(projectRoot, 'docs', 'runbook.md'), 'utf8');
const blocks = [...runbook.matchAll(/<!-- safe -->\n```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);

let origin: Origin;
let stack: Stack;
let server: { url: string; close(): Promise<void> };
let api: string;
beforeAll(async () => {
  origin = await startOrigin();
  stack = await startStack('file');
  server = await serveApp(stack.app);
  api = server.url;
  await stack.submit({ jobId: 'readme-0001', resources: [{ url: `${origin.url}/bytes/22/hello` }, { url: `${origin.url}/status/404/missing`, id: 'missing' }] });
  await stack.waitForJob('readme-0001');
});
afterAll(async () => {
  await server?.close();
  await stack?.close();
  await origin?.close();
});

describe('docs/runbook.md safe commands', () => {
  it('has safe blocks', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(4);
  });

  it.each(blocks.map((b, i) => [i, b] as const))('block %i runs', async (_i, block) => {
    const prelude = blocks[0]!; // sets API and PATH, as a reader would have done
    // Asynchronous: the API answering the commands runs in this process.
    const { stdout: out } = await promisify(execFile)('bash', ['-euo', 'pipefail', '-c', `${prelude}\n${block}`], {
      cwd: projectRoot,
      env: { ...process.env, API: api, TEMPORAL_ADDRESS: inject('temporalAddress') },
      encoding: 'utf8',
    });
    if (block.includes('$API/jobs/readme-0001')) expect(out).toContain('readme-0001');
  });
});
