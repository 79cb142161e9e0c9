import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { projectRoot } from '../../src/temporal/temporal-cli.js';
import { serveApp, startStack, type Stack } from '../support/stack.js';

// The docs' shell blocks marked `<!-- docs-test: safe -->` (CONTRIBUTING.md says when a block may
// be) run against a real stack, in page order, and must exit 0, so the commands cannot rot.
// README.md first: its blocks create the job readme-0001 that the runbook's blocks talk about.
// Unmarked blocks (long-running servers, Docker, TLS files, cancel/reset) are skipped by design.
const MARKER = '<!-- docs-test: safe -->';

/** The `sh` blocks of a document that its marker line makes safe to run. */
function safeBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^<!-- docs-test: safe -->\n```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

const read = (file: string) => readFileSync(path.join(projectRoot, file), 'utf8');
const readme = read('README.md');
const runbook = read('docs/runbook.md');
const readmeBlocks = safeBlocks(readme);
const runbookBlocks = safeBlocks(runbook);

let stack: Stack;
let server: { url: string; close(): Promise<void> };
let workDir: string;
let siteDir: string;
let site: Server;
let siteUrl: string;
beforeAll(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'fetchbox-docs-'));
  siteDir = path.join(workDir, 'fetchbox-site');
  // The README's origin is `python3 -m http.server 8000` in /tmp/fetchbox-site (a server that would
  // outlive the test, so unmarked); this serves the same directory the same way.
  site = createServer((req, res) => {
    readFile(path.join(siteDir, path.basename(new URL(req.url!, 'http://x').pathname)))
      .then((body) => res.writeHead(200, { 'content-type': 'text/plain' }).end(body))
      .catch(() => res.writeHead(404).end('not found'));
  });
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
  // `data/objects` under the blocks' working directory, as under `npm run dev`'s.
  stack = await startStack('file', { FETCHBOX_STORAGE_URL: `file://${path.join(workDir, 'data', 'objects')}` });
  server = await serveApp(stack.app);
});
afterAll(async () => {
  await server?.close();
  await stack?.close();
  await new Promise<void>((resolve) => (site ? site.close(() => resolve()) : resolve()));
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

/** Runs one block with bash -euo pipefail; rejects (failing the test) on a non-zero exit. */
async function run(block: string): Promise<string> {
  const { stdout } = await promisify(execFile)('bash', ['-euo', 'pipefail', '-c', block], {
    cwd: workDir,
    env: {
      ...process.env,
      API: server.url,
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      PATH: `${path.join(projectRoot, '.tools', 'bin')}:${process.env.PATH}`,
    },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return stdout;
}

/** The README as a reader runs it, with the test's API, origin and directory in place of the fixed ones. */
function asReaderWouldHere(block: string): string {
  return block
    .replaceAll('http://127.0.0.1:3000', server.url)
    .replaceAll('http://127.0.0.1:8000', siteUrl)
    .replaceAll('/tmp/fetchbox-site', siteDir);
}

describe('the docs test itself', () => {
  it('finds the marked blocks, and a failing block fails', async () => {
    expect(readme).toContain(MARKER);
    expect(safeBlocks(`${MARKER}\n\`\`\`sh\necho one\n\`\`\`\n\n\`\`\`sh\necho skipped\n\`\`\`\n`)).toEqual(['echo one\n']);
    await expect(run('true\nfalse\necho never')).rejects.toThrow();
    await expect(run('curl -sf http://127.0.0.1:1/ >/dev/null')).rejects.toThrow();
  });
});

describe('README.md safe commands', () => {
  it('has safe blocks: the first job from origin to retry', () => {
    expect(readmeBlocks.length).toBe(4);
  });

  it.each(readmeBlocks.map((b, i) => [i, b] as const))('block %i runs', async (_i, block) => {
    const out = await run(asReaderWouldHere(block));
    if (/-X POST \S*\/jobs \\/.test(block)) {
      // The reader waits for the job before reading it.
      expect(JSON.parse(out)).toMatchObject({ jobId: 'readme-0001' });
      expect(await stack.waitForJob('readme-0001')).toMatchObject({
        status: 'completed_with_failures',
        resources: { succeeded: 2, failed: 1 },
      });
    }
    if (block.includes('# summary: completed_with_failures, 2 of 3')) {
      expect(out).toContain('"status":"completed_with_failures"');
      for (const name of ['hello.txt', 'manifest.json', 'copy.txt']) expect(out).toContain(name); // `ls -R` listed the stored objects
    }
    if (block.includes('/retry')) {
      expect(await stack.waitForJob('readme-0001')).toMatchObject({ status: 'completed', resources: { succeeded: 3, failed: 0 } });
    }
  });
});

describe('docs/runbook.md safe commands', () => {
  it('has safe blocks', () => {
    expect(runbookBlocks.length).toBeGreaterThanOrEqual(8);
  });

  it.each(runbookBlocks.map((b, i) => [i, b] as const))('block %i runs', async (_i, block) => {
    const prelude = runbookBlocks[0]!; // sets API and PATH, as a reader would have done
    const out = await run(`${prelude}\n${block}`);
    if (block.includes('$API/jobs/readme-0001')) expect(out).toContain('readme-0001');
    if (block.includes('workflowExecutionRetentionTtl')) expect(out).toMatch(/^\d+s$/m);
  });
});
