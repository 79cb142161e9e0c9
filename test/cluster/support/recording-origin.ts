import { createServer, type Server } from 'node:http';
import { content } from '../../support/origin.js';
import { listenLoopback } from '../../support/ports.js';

/**
 * A loopback origin for the cluster suite's multi-worker tests: it records who asked for what
 * (each worker runs with its own FETCHBOX_FETCH_USER_AGENT) and how many requests it had in
 * flight at once, so a test can tell which worker re-requested a resource and whether a per-host
 * limit held across workers.
 */
export interface RecordingOrigin {
  url: string;
  /** User-Agent of every request, in arrival order, per path. */
  requests: Map<string, string[]>;
  /** Most requests in flight at once (this origin is one host: `127.0.0.1:<port>`). */
  peak: number;
  /** Requests answered so far. */
  total(): number;
  close(): Promise<void>;
}

/**
 * Starts the origin: `GET /<size>/<name>` answers after `delayMs` with the deterministic body of
 * `content(name, size)` (test/support/origin.ts), so stored objects can be checked by sha256.
 * A request counts as in flight from arrival until its answer is sent.
 */
export async function startRecordingOrigin(delayMs = 0): Promise<RecordingOrigin> {
  const requests = new Map<string, string[]>();
  let inFlight = 0;
  let answered = 0;
  const origin: RecordingOrigin = {
    url: '',
    requests,
    peak: 0,
    total: () => answered,
    close: async () => undefined,
  };
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://origin').pathname;
    const seen = requests.get(path);
    const agent = req.headers['user-agent'] ?? '';
    if (seen) seen.push(agent);
    else requests.set(path, [agent]);
    inFlight++;
    origin.peak = Math.max(origin.peak, inFlight);
    let counted = true;
    const finish = () => {
      if (counted) inFlight--;
      counted = false;
    };
    res.on('close', finish);
    const answer = () => {
      const [size, name] = path.split('/').filter(Boolean);
      const body = content(name ?? 'x', Number(size ?? 0));
      finish(); // out before the answer leaves, so a prompt next request never overlaps it
      answered++;
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(body.length) });
      res.end(body);
    };
    if (delayMs > 0) {
      const timer = setTimeout(answer, delayMs);
      res.on('close', () => clearTimeout(timer));
    } else answer();
  });
  const { url, close } = await listenLoopback(server);
  origin.url = url;
  origin.close = close;
  return origin;
}
