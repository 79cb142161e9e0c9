// One job through the installed package's `fetchbox dev --handlers ./handlers.js`, run from an
// installed copy of examples/handler-project (scripts/example-project.sh). Starts a loopback
// origin, the dev stack on free ports with file storage under the data directory given as the
// first argument, submits a job with the example's `catalog` handler, waits for it to complete,
// checks the objects, the handler's keys and the token it sent, then stops the stack with Ctrl-C
// (SIGINT) as a person would. Every wait has a deadline; exits 1 with the stack's output on failure.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import path from 'node:path';
import { clearTimeout, setTimeout } from 'node:timers';

const { fetch } = globalThis;

const dataDir = process.argv[2];
if (!dataDir) throw new Error('usage: example-project-e2e.mjs <data-dir>');
const jobId = 'example-catalog-1';
const started = Date.now();

/** A free loopback port (the kernel's pick, released again). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Polls `check` every 200 ms until it returns a value other than undefined, or throws after `ms`. */
async function until(what, ms, check) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const authorizations = [];
const origin = createServer((req, res) => {
  authorizations.push(req.headers.authorization);
  res.writeHead(200, { 'content-type': 'text/plain' }).end(`hello ${req.url}`);
});
await new Promise((resolve) => origin.listen(0, '127.0.0.1', resolve));
const originUrl = `http://127.0.0.1:${origin.address().port}`;

const [apiPort, temporalPort, uiPort] = [await freePort(), await freePort(), await freePort()];
const api = `http://127.0.0.1:${apiPort}`;
let output = '';
const dev = spawn(path.join('node_modules', '.bin', 'fetchbox'), ['dev', '--handlers', './handlers.js'], {
  env: {
    ...process.env,
    FETCHBOX_DATA_DIR: dataDir,
    FETCHBOX_API_PORT: String(apiPort),
    TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}`,
    FETCHBOX_TEMPORAL_UI_URL: `http://127.0.0.1:${uiPort}`,
    FETCHBOX_FETCH_ALLOW_CIDRS: '127.0.0.0/8',
    FETCHBOX_WORKER_METRICS_PORT: '-1',
    FETCHBOX_LOG_LEVEL: 'warn',
    FETCHBOX_LOG_FORMAT: 'json',
    FETCHBOX_HANDLER_CATALOG_TOKEN: 'ci-token',
  },
  stdio: ['ignore', 'pipe', 'pipe'],
});
dev.stdout.setEncoding('utf8').on('data', (d) => (output += d));
dev.stderr.setEncoding('utf8').on('data', (d) => (output += d));
const exited = new Promise((resolve) => dev.once('exit', (code, signal) => resolve(code ?? signal)));

/** Ctrl-C, then SIGKILL if it has not exited in 30 s (a SIGKILL first would orphan its Temporal dev server). */
async function stop() {
  if (dev.exitCode !== null || dev.signalCode !== null) return exited;
  dev.kill('SIGINT');
  const timer = setTimeout(() => dev.kill('SIGKILL'), 30_000);
  const result = await exited;
  clearTimeout(timer);
  return result;
}

try {
  // The worker bundles its workflows with webpack at start (no prebuilt bundle here).
  await until('fetchbox dev to come up', 180_000, () => {
    if (dev.exitCode !== null) throw new Error(`fetchbox dev exited with ${dev.exitCode}`);
    return output.includes('FetchBox dev is up') ? true : undefined;
  });
  const submitted = await fetch(`${api}/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      jobId,
      handler: 'catalog',
      metadata: { source: 'ci' },
      resources: [
        { id: 'a', url: `${originUrl}/files/a.txt` },
        { id: 'b', url: `${originUrl}/files/b.csv` },
      ],
    }),
  });
  if (submitted.status !== 202) throw new Error(`POST /jobs answered ${submitted.status}: ${await submitted.text()}`);
  const summary = await until(`job ${jobId} to close`, 120_000, async () => {
    const body = await (await fetch(`${api}/jobs/${jobId}`)).json();
    return ['running', 'pending'].includes(body.status) ? undefined : body;
  });
  if (summary.status !== 'completed' || summary.resources.succeeded !== 2)
    throw new Error(`job ${jobId} closed as ${JSON.stringify(summary)}`);
  for (const [key, body] of [
    ['a.txt', 'hello /files/a.txt'],
    ['b.csv', 'hello /files/b.csv'],
  ]) {
    const file = path.join(dataDir, 'objects', 'catalog', jobId, key);
    const text = readFileSync(file, 'utf8');
    if (text !== body) throw new Error(`${file} holds ${JSON.stringify(text)}, not ${JSON.stringify(body)}`);
  }
  if (authorizations.length !== 2 || authorizations.some((a) => a !== 'Bearer ci-token'))
    throw new Error(`the origin saw Authorization ${JSON.stringify(authorizations)}`);
  const code = await stop();
  if (code !== 0) throw new Error(`fetchbox dev exited with ${code} after Ctrl-C`);
  process.stdout.write(
    `example-project: job ${jobId} with the example's catalog handler completed (2 of 2 resources) through fetchbox dev --handlers in ${Math.round((Date.now() - started) / 1000)} s\n`,
  );
} catch (err) {
  await stop();
  process.stderr.write(`example-project: ${err.message}\n--- fetchbox dev output (last 6000 characters) ---\n${output.slice(-6000)}\n`);
  process.exitCode = 1;
} finally {
  origin.close();
}
