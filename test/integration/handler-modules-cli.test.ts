import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { projectRoot } from '../../src/temporal/temporal-cli.js';
import { content, startOrigin, type Origin } from '../support/origin.js';
import { freePort } from '../support/ports.js';
import { uniqueJobId } from '../support/stack.js';
import { waitFor, waitForOutput } from '../support/wait-for.js';

// `fetchbox worker|api|dev --handlers` on the built CLI (`npm run build` first), with handler
// modules in a project directory of their own that imports `fetchbox` as a package would.

const bin = path.join(projectRoot, 'bin', 'fetchbox.js');
let dir: string;
let origin: Origin;
const children: ChildProcess[] = [];

/** Runs the CLI to its exit in the project directory; nothing it reaches may be a real server. */
function runToExit(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: dir,
      env: { ...process.env, TEMPORAL_ADDRESS: '127.0.0.1:1', FETCHBOX_LOG_LEVEL: 'silent', FETCHBOX_WORKER_METRICS_PORT: '-1', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

/** Starts a long-running command; resolves once `ready` appears in its output. */
async function startService(
  args: string[],
  env: Record<string, string>,
  ready: RegExp,
): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, [bin, ...args], { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (output += d));
  await waitForOutput(child, () => output, ready, 90_000);
  return { child, output: () => output };
}

beforeAll(async () => {
  origin = await startOrigin();
  dir = await mkdtemp(path.join(os.tmpdir(), 'fetchbox-handler-cli-'));
  // `fetchbox` as the project's dependency: this checkout, through its package.json `exports`.
  await mkdir(path.join(dir, 'node_modules'), { recursive: true });
  await symlink(projectRoot, path.join(dir, 'node_modules', 'fetchbox'), 'dir');
  const pkg = path.join(dir, 'node_modules', 'team-handlers');
  await mkdir(pkg, { recursive: true });
  await writeFile(
    path.join(pkg, 'package.json'),
    JSON.stringify({ name: 'team-handlers', type: 'module', exports: { '.': { import: './index.js' } } }),
  );
  await writeFile(
    path.join(pkg, 'index.js'),
    `import { defineHandler, defaultStorageKey } from 'fetchbox';
     export default defineHandler({
       name: 'team-tagged',
       storageKey: (resource, ctx) => 'team/' + defaultStorageKey(resource, ctx),
       headers: (_task, ctx) => ({ 'x-team-token': ctx.settings.token ?? 'unset' }),
     });`,
  );
  await writeFile(path.join(dir, 'throws.mjs'), `throw new Error('TEAM_SECRET is not set');`);
  await writeFile(path.join(dir, 'empty.mjs'), `export const helper = () => 1;`);
  await writeFile(path.join(dir, 'bad-hook.mjs'), `export default { name: 'bad', expand: 'all' };`);
  await writeFile(path.join(dir, 'clash.mjs'), `export default { name: 'default' };`);
  await writeFile(path.join(dir, 'far-store.mjs'), `export default { name: 'far-store', policy: { store: 'nowhere' } };`);
});

afterAll(async () => {
  await Promise.all(
    children.map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    }),
  );
  await origin?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('--handlers and FETCHBOX_HANDLERS that cannot be used stop the process (exit 3) naming the module', () => {
  it('an unknown path, an unknown package, a module that throws, one without a handler, a bad hook, a clash', async () => {
    const cases: [string[], Record<string, string>, string][] = [
      [
        ['worker', '--handlers', './missing.js'],
        {},
        `fetchbox: handler module "./missing.js": no such file: ${path.join(dir, 'missing.js')}\n`,
      ],
      [
        ['api'],
        { FETCHBOX_HANDLERS: 'no-such-team-handlers' },
        'fetchbox: handler module "no-such-team-handlers": cannot find it as a package from',
      ],
      [['worker', '--handlers=./throws.mjs'], {}, 'fetchbox: handler module "./throws.mjs": failed to load file://'],
      [['dev', '--handlers', 'team-handlers,./empty.mjs'], {}, 'fetchbox: handler module "./empty.mjs": exports no handler'],
      [
        ['worker'],
        { FETCHBOX_HANDLERS: './bad-hook.mjs' },
        'fetchbox: handler module "./bad-hook.mjs": default export: expand must be a function, not string\n',
      ],
      [
        ['api', '--handlers', './clash.mjs'],
        {},
        'fetchbox: handler module "./clash.mjs": handler name "default" is taken by a built-in handler\n',
      ],
    ];
    for (const [args, env, message] of cases) {
      const { code, stderr } = await runToExit(args, env);
      expect({ args, env, code }).toEqual({ args, env, code: 3 });
      expect(stderr, args.join(' ')).toContain(message);
      expect(stderr, 'no stack trace').not.toMatch(/^\s+at /m);
    }
    expect((await runToExit(['worker', '--handlers=./throws.mjs'])).stderr).toContain('Error: TEAM_SECRET is not set');
  });

  it('--handlers replaces FETCHBOX_HANDLERS; --handlers with no module is a usage error (exit 2)', async () => {
    const replaced = await runToExit(['worker', '--handlers', './empty.mjs'], { FETCHBOX_HANDLERS: './missing.js' });
    expect(replaced.code).toBe(3);
    expect(replaced.stderr).toContain('"./empty.mjs": exports no handler');
    const bare = await runToExit(['worker', '--handlers']);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain('--handlers needs a module');
  });
});

describe('a handler module from a package, in fetchbox worker and fetchbox api', () => {
  it('runs a job with its handler: the API knows the name, the worker runs its hooks with its settings', async () => {
    const queue = uniqueJobId('handler-cli');
    const objects = path.join(dir, 'objects');
    const env = {
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      TEMPORAL_TASK_QUEUE: queue,
      FETCHBOX_STORAGE_URL: `file://${objects}`,
      FETCHBOX_FETCH_ALLOW_CIDRS: '127.0.0.0/8',
      FETCHBOX_WORKER_METRICS_PORT: '-1',
      FETCHBOX_WORKFLOW_BUNDLE: inject('workflowBundlePath'),
      FETCHBOX_LOG_LEVEL: 'info',
      FETCHBOX_LOG_FORMAT: 'json',
      FETCHBOX_HANDLER_TEAM_TAGGED_TOKEN: 'team-secret',
    };
    // The worker from the variable, the API from the flag: both paths load the same package.
    const worker = await startService(['worker'], { ...env, FETCHBOX_HANDLERS: 'team-handlers' }, /"msg":"worker running"/);
    expect(worker.output()).toMatch(/"msg":"handler modules loaded"/);
    expect(worker.output()).toContain('"handlers":["team-tagged"]');
    const port = await freePort();
    await startService(['api', '--handlers', 'team-handlers'], { ...env, FETCHBOX_API_PORT: String(port) }, /"msg":"api listening"/);
    const api = `http://127.0.0.1:${port}`;

    const unknown = await fetch(`${api}/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ handler: 'not-loaded', resources: [{ url: `${origin.url}/bytes/1/x` }] }),
    });
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('unknown_handler');

    const jobId = uniqueJobId('team');
    const submitted = await fetch(`${api}/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jobId, handler: 'team-tagged', resources: [{ id: 'a', url: `${origin.url}/bytes/3000/${jobId}` }] }),
    });
    expect(submitted.status, await submitted.clone().text()).toBe(202);
    const summary = await waitFor(
      `job ${jobId} to close`,
      async () => {
        const s = (await (await fetch(`${api}/jobs/${jobId}`)).json()) as Record<string, any>;
        return s.status === 'completed' || s.status?.startsWith('completed_') ? s : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 200, report: () => worker.output().slice(-4000) },
    );
    expect(summary, worker.output().slice(-4000)).toMatchObject({
      status: 'completed',
      handler: 'team-tagged',
      resources: { succeeded: 1 },
    });
    const file = path.join(objects, 'team', jobId, `a-${jobId}`);
    expect(existsSync(file)).toBe(true);
    expect(readFileSync(file).equals(content(jobId, 3000))).toBe(true);
    expect(origin.lastHeaders.get(`/bytes/3000/${jobId}`)?.['x-team-token']).toBe('team-secret');
  });
});
