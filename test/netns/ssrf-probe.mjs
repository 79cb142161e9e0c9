// Runs inside its own network namespace (`unshare -n`, started by test/integration/ssrf-netns.test.ts):
// puts private and metadata addresses on the namespace's loopback, listens on each, and asks
// FetchBox's fetcher (the built dist/) for URLs that reach them directly, through redirects and
// through alternative encodings. Prints one JSON line: each URL's outcome and the connections
// every listener saw. Nothing here can reach a real network: the namespace has only `lo`.
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';

for (const args of [
  ['link', 'set', 'lo', 'up'],
  ['addr', 'add', '10.0.0.1/32', 'dev', 'lo'],
  ['addr', 'add', '192.168.7.7/32', 'dev', 'lo'],
  ['addr', 'add', '169.254.169.254/32', 'dev', 'lo'],
  ['addr', 'add', '100.100.100.200/32', 'dev', 'lo'],
  ['addr', 'add', 'fd00:ec2::254/128', 'dev', 'lo'],
]) {
  execFileSync('ip', args);
}

const { createFetcher } = await import(new URL('../../dist/fetch/fetcher.js', import.meta.url).href);
const { loadConfig } = await import(new URL('../../dist/config/load-config.js', import.meta.url).href);

/** Listeners on blocked addresses: every TCP connection counts, even one that never sends a byte. */
const connections = {};
async function listen(host, port, handler) {
  const server = createServer(handler ?? ((req, res) => res.end('secret')));
  if (!handler) server.on('connection', () => (connections[`${host}:${port}`] = (connections[`${host}:${port}`] ?? 0) + 1));
  await new Promise((resolve) => server.listen(port, host, resolve));
  return server;
}
const servers = [
  await listen('10.0.0.1', 8080),
  await listen('192.168.7.7', 8080),
  await listen('169.254.169.254', 80),
  await listen('100.100.100.200', 80),
  await listen('fd00:ec2::254', 8080),
  await listen('127.0.0.2', 8080),
  await listen('127.0.0.1', 8080),
];
// The one allowed origin (127.0.0.9): redirects to wherever ?to= says.
const origin = await listen('127.0.0.9', 9000, (req, res) => {
  const to = new URL(req.url, 'http://x').searchParams.get('to');
  if (to) return res.writeHead(302, { location: to }).end();
  res.end('ok');
});

const targets = [
  'http://10.0.0.1:8080/',
  'http://192.168.7.7:8080/',
  'http://169.254.169.254/latest/meta-data/',
  'http://100.100.100.200/latest/meta-data/',
  'http://[fd00:ec2::254]:8080/',
  'http://127.0.0.2:8080/',
  'http://167772161:8080/', // decimal 10.0.0.1
  'http://0x0a000001:8080/', // hex
  'http://012.0.0.1:8080/', // octal
  'http://10.1:8080/', // short form
  'http://[::ffff:10.0.0.1]:8080/', // IPv4-mapped IPv6
  'http://[::ffff:a9fe:a9fe]/latest/', // mapped metadata
  'http://localhost:8080/', // a name: resolved (hosts file) to 127.0.0.1, then refused
];
const urls = [
  ...targets,
  ...targets.slice(0, 6).map((t) => `http://127.0.0.9:9000/hop?to=${encodeURIComponent(t)}`), // redirect hops
];

async function attempt(fetcher, url) {
  try {
    const res = await fetcher.open({ url });
    await res.body.dump();
    return { url, outcome: 'fetched', status: res.status };
  } catch (err) {
    return { url, outcome: err.kind ?? err.name, message: err.message };
  }
}

const guarded = createFetcher(loadConfig({ FETCHBOX_FETCH_ALLOW_CIDRS: '127.0.0.9/32', FETCHBOX_FETCH_CONNECT_TIMEOUT_MS: '2000' }).fetch);
const refused = [];
for (const url of urls) refused.push(await attempt(guarded, url));
await guarded.close();
const blockedConnections = { ...connections };

// Control: allowing 10.0.0.0/8 makes the same fetcher reach 10.0.0.1, so the listeners do count.
const open = createFetcher(loadConfig({ FETCHBOX_FETCH_ALLOW_CIDRS: '10.0.0.0/8,127.0.0.9/32' }).fetch);
const control = await attempt(open, 'http://10.0.0.1:8080/');
const controlViaRedirect = await attempt(open, `http://127.0.0.9:9000/hop?to=${encodeURIComponent('http://10.0.0.1:8080/')}`);
await open.close();

for (const s of [...servers, origin]) s.close();
process.stdout.write(
  `${JSON.stringify({ refused, blockedConnections, control, controlViaRedirect, controlConnections: connections['10.0.0.1:8080'] ?? 0 })}\n`,
);
process.exit(0);
