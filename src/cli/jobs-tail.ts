import {
  FetchBoxApiError,
  FetchBoxStreamError,
  FetchBoxUnavailableError,
  StreamFailure,
  type FetchBoxClient,
  type JobEvent,
  type JobSummary,
  type ResourceEvent,
} from '../client/fetchbox-client.js';
import { RateWindow, renderProgressBar } from './tail-progress.js';

/** A job summary as the events stream sends it (`summary` and `end` events). */
export type TailSummary = JobSummary;

/** A `resource` event's data: the resource's state where it settled. */
export type TailResource = ResourceEvent;

/** Where and how `tail` writes; `tty` draws the progress bar. */
export interface TailOptions {
  /** The API client (its base URL and token). */
  client: FetchBoxClient;
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
  const events = opts.client.events(jobId, opts.all ? { resources: 'all' } : {});
  // The first event (or the refusal) comes before any output: a 4xx or no answer ends the command here.
  let first: IteratorResult<JobEvent>;
  try {
    first = await events.next();
  } catch (err) {
    if (err instanceof FetchBoxApiError) return fail(err.status >= 500 ? opts.exits.unavailable : opts.exits.refused, err.message);
    if (err instanceof FetchBoxStreamError || err instanceof FetchBoxUnavailableError) return fail(opts.exits.unavailable, err.message);
    throw err;
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
  const show = ({ event, data }: JobEvent) => {
    if (opts.json) return opts.out(`${JSON.stringify({ event, ...data })}\n`);
    if (event === 'resource') {
      const line = `${clock(now())}  ${resourceLine(data)}\n`;
      if (opts.tty) clearBar();
      return opts.out(line);
    }
    if (event === 'end') {
      if (opts.tty) clearBar();
      return opts.out(`${clock(now())}  ${opts.summaryLine(data)}\n`);
    }
    counts = data.resources;
    rates.add(now(), counts.succeeded + counts.failed);
    if (!opts.tty) opts.out(`${clock(now())}  ${opts.summaryLine(data)}\n`);
  };

  let failure: FetchBoxStreamError | undefined;
  try {
    for (let next = first; !next.done; next = await events.next()) {
      show(next.value);
      if (next.value.event === 'end') final = next.value.data;
      if (opts.tty && !opts.json && !final) drawBar();
    }
  } catch (err) {
    if (!(err instanceof FetchBoxStreamError)) throw err;
    failure = err;
    // --json prints the API's error event as it prints every other event.
    if (opts.json && err.reason === StreamFailure.errorEvent && err.body) opts.out(`${JSON.stringify({ event: 'error', ...err.body })}\n`);
  } finally {
    if (ticker) clearInterval(ticker);
    if (opts.tty && !opts.json) clearBar();
  }
  if (!final) return fail(opts.exits.unavailable, failure?.message ?? 'the event stream ended before the job closed');
  return final.status === 'completed' ? opts.exits.ok : opts.exits.notCompleted;
}
