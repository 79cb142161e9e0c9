import { RateWindow, renderProgressBar } from './tail-progress.js';

/** A job summary as the events stream sends it (`summary` and `end` events). */
export interface TailSummary {
  jobId: string;
  handler: string;
  status: string;
  resources: { total: number; succeeded: number; failed: number; pending: number };
  bytes: number;
  startedAt: string;
  closedAt?: string;
  links: { self: string; temporalUi: string };
}

/** A `resource` event's data: the resource's state where it settled. */
export interface TailResource {
  jobId: string;
  page: number;
  round: number;
  id: string;
  url: string;
  key: string;
  status: string;
  attempts: number;
  error?: { kind: string; message: string; httpStatus?: number };
}

/** Where and how `tail` writes; `tty` draws the progress bar. */
export interface TailOptions {
  /** The API's base URL and the request headers (auth). */
  base: string;
  headers: Record<string, string>;
  out(text: string): void;
  err(text: string): void;
  /** One JSON object per event line. */
  json: boolean;
  /** stdout is a terminal: a progress bar redrawn in place, failures printed above it. */
  tty: boolean;
  /** Terminal width for the bar (80 when unknown or 0). */
  columns?: number | undefined;
  /** Also report successes (`?resources=all`). */
  all: boolean;
  /** The job summary's one-line form (shared with `jobs get` and `list`). */
  summaryLine(summary: TailSummary): string;
  /** The exit codes of `fetchbox jobs` (JobsExit), passed in so this module does not import its caller. */
  exits: { ok: number; unavailable: number; refused: number; notCompleted: number };
  /** Clock in ms, injectable for tests. */
  now?: () => number;
}

/** One server-sent event. */
interface SseEvent {
  event: string;
  data: string;
}

/** Splits complete `\n\n`-terminated SSE blocks off `buffer`; comments and data-less blocks are skipped. */
export function takeSseEvents(buffer: string): { events: SseEvent[]; rest: string } {
  const events: SseEvent[] = [];
  let rest = buffer;
  for (let cut = rest.indexOf('\n\n'); cut !== -1; cut = rest.indexOf('\n\n')) {
    const block = rest.slice(0, cut);
    rest = rest.slice(cut + 2);
    const lines = block.split('\n');
    const data = lines
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).replace(/^ /, ''))
      .join('\n');
    if (!data) continue;
    const event =
      lines
        .find((l) => l.startsWith('event:'))
        ?.slice(6)
        .trim() || 'message';
    events.push({ event, data });
  }
  return { events, rest };
}

/** One line for a settled resource: status, id, url, and the error when it failed. */
export function resourceLine(r: TailResource): string {
  const error = r.error ? `  [${r.error.kind}${r.error.httpStatus ? ` ${r.error.httpStatus}` : ''}] ${r.error.message}` : '';
  const round = r.round > 0 ? `  (retry round ${r.round})` : '';
  return `${r.status}  ${r.id}  ${r.url}${error}${round}`;
}

const clock = (now: number) => new Date(now).toISOString().slice(11, 19);

/**
 * `fetchbox jobs tail <jobId>`: follows `GET /jobs/{jobId}/events` until the job closes. With
 * `json`, one JSON object per event (`{"event": ..., ...data}`); on a terminal, a progress bar
 * (percent, counts, rate over the last 10 s, ETA) redrawn in place with failures printed above
 * it; otherwise a line per summary and per failed resource. Returns the exit code: 0 when the
 * job completed, 5 when it closed otherwise, 1 when the API is unreachable or the stream broke,
 * 4 when the API refused.
 */
export async function tailJob(jobId: string, opts: TailOptions): Promise<number> {
  const now = opts.now ?? Date.now;
  const fail = (code: number, message: string) => (opts.err(`fetchbox jobs tail: ${message}\n`), code);
  const query = opts.all ? '?resources=all' : '';
  let res: Response;
  try {
    res = await fetch(`${opts.base}/jobs/${encodeURIComponent(jobId)}/events${query}`, {
      headers: { ...opts.headers, accept: 'text/event-stream' },
    });
  } catch (err) {
    return fail(opts.exits.unavailable, `cannot reach ${opts.base}: ${(err as Error).message}`);
  }
  if (!res.ok || !res.body) {
    const json = (await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string } };
    return fail(
      res.status >= 500 ? opts.exits.unavailable : opts.exits.refused,
      `${res.status} ${json.error?.code ?? ''}: ${json.error?.message ?? ''}`,
    );
  }

  const columns = opts.columns || 80; // a pty without a size says 0
  const rates = new RateWindow();
  let counts: TailSummary['resources'] | undefined;
  let bar = '';
  const clearBar = () => {
    if (bar) opts.out('\r\x1b[2K');
    bar = '';
  };
  const drawBar = () => {
    if (!counts) return;
    const next = renderProgressBar({ counts, rate: rates.rate(now()) }, columns);
    opts.out(`\r${next}\x1b[K`);
    bar = next;
  };
  // On a terminal the bar is redrawn every second, so the rate and ETA move while nothing arrives.
  const ticker = opts.tty && !opts.json ? setInterval(drawBar, 1000) : undefined;
  ticker?.unref();

  let final: TailSummary | undefined;
  let broken: string | undefined;
  const show = ({ event, data }: SseEvent) => {
    const body = JSON.parse(data) as Record<string, unknown>;
    if (opts.json) return opts.out(`${JSON.stringify({ event, ...body })}\n`);
    if (event === 'error') {
      broken = (body as { error?: { message?: string } }).error?.message ?? data;
      return;
    }
    if (event === 'resource') {
      const line = `${clock(now())}  ${resourceLine(body as unknown as TailResource)}\n`;
      if (opts.tty) clearBar();
      return opts.out(line);
    }
    const summary = body as unknown as TailSummary;
    if (event === 'end') {
      if (opts.tty) clearBar();
      return opts.out(`${clock(now())}  ${opts.summaryLine(summary)}\n`);
    }
    if (event !== 'summary') return; // an event this client does not know yet
    counts = summary.resources;
    rates.add(now(), counts.succeeded + counts.failed);
    if (!opts.tty) opts.out(`${clock(now())}  ${opts.summaryLine(summary)}\n`);
  };

  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for await (const chunk of res.body) {
      const taken = takeSseEvents(buffer + decoder.decode(chunk as Uint8Array, { stream: true }));
      buffer = taken.rest;
      for (const e of taken.events) {
        show(e);
        if (e.event === 'end') final = JSON.parse(e.data) as TailSummary;
        if (e.event === 'error' && opts.json) broken = e.data;
      }
      if (opts.tty && !opts.json && !final) drawBar();
    }
  } catch (err) {
    broken ??= (err as Error).message;
  } finally {
    if (ticker) clearInterval(ticker);
    if (opts.tty && !opts.json) clearBar();
  }
  if (!final)
    return fail(opts.exits.unavailable, broken ? `the event stream failed: ${broken}` : 'the event stream ended before the job closed');
  return final.status === 'completed' ? opts.exits.ok : opts.exits.notCompleted;
}
