/**
 * The progress bar of `fetchbox jobs tail` on a terminal: pure functions of the job's counts and
 * the clock, so the rendering is tested without a terminal.
 */

/** The counts the bar shows (a job summary's `resources`). */
export interface BarCounts {
  total: number;
  succeeded: number;
  failed: number;
  pending: number;
}

/** What one frame of the bar shows: counts, and a rate (resources/s) when one is known. */
export interface BarFrame {
  counts: BarCounts;
  /** Resources settled per second over the recent window; `undefined` before two samples. */
  rate?: number | undefined;
}

/** The bar's width bounds, in characters between its brackets. */
const BAR_MIN = 10;
const BAR_MAX = 40;

/** `1:05:09`, `5:09` or `9s`: a short duration for an ETA. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h > 0) return `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}`;
  if (m > 0) return `${m}:${String(sec).padStart(2, '0')}`;
  return `${sec}s`;
}

/** A rate for the bar: one decimal below 10/s, whole numbers above. */
function formatRate(rate: number): string {
  return `${rate < 10 ? rate.toFixed(1) : Math.round(rate).toString()} res/s`;
}

/**
 * One line of the progress bar, at most `columns - 1` characters (so a terminal never wraps it
 * and `\r` redraws it in place): `[#####.....]  45%  450/1000  ok 440  failed 10  12 res/s  ETA 0:46`.
 * The ETA is the pending resources at the current rate; unknown (`ETA ?`) without a rate above 0.
 */
export function renderProgressBar(frame: BarFrame, columns: number): string {
  const { total, succeeded, failed, pending } = frame.counts;
  const settled = succeeded + failed;
  const ratio = total > 0 ? Math.min(1, settled / total) : 0;
  const percent = `${Math.floor(ratio * 100)}%`.padStart(4);
  const rate = frame.rate !== undefined ? formatRate(frame.rate) : '- res/s';
  const eta =
    pending === 0 ? 'ETA 0s' : frame.rate !== undefined && frame.rate > 0 ? `ETA ${formatDuration(pending / frame.rate)}` : 'ETA ?';
  const text = `${percent}  ${settled}/${total}  ok ${succeeded}  failed ${failed}  ${rate}  ${eta}`;
  const room = columns - 1 - text.length - 4; // "[" + "]" + two spaces
  const width = Math.max(BAR_MIN, Math.min(BAR_MAX, room));
  const filled = Math.round(ratio * width);
  const line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]  ${text}`;
  return line.length <= columns - 1 ? line : line.slice(0, Math.max(0, columns - 1));
}

/** One sample of settled resources at a time (ms). */
interface Sample {
  at: number;
  settled: number;
}

/**
 * The settle rate over a sliding window: the resources settled from `now - window` (interpolated
 * between the samples around it) to the newest sample, per second up to `now`, so the rate falls
 * while nothing settles. Samples older than the window are dropped but the newest of them.
 */
export class RateWindow {
  private samples: Sample[] = [];

  constructor(private readonly windowMs = 10_000) {}

  /** Records how many resources had settled at `at` (ms). */
  add(at: number, settled: number): void {
    this.samples.push({ at, settled });
    while (this.samples.length > 2 && this.samples[1]!.at <= at - this.windowMs) this.samples.shift();
  }

  /** Resources per second over the window ending at `now`; `undefined` before two samples. */
  rate(now: number): number | undefined {
    if (this.samples.length < 2) return undefined;
    const last = this.samples[this.samples.length - 1]!;
    const end = Math.max(now, last.at);
    const from = Math.max(this.samples[0]!.at, end - this.windowMs);
    const seconds = (end - from) / 1000;
    if (seconds <= 0) return undefined;
    return Math.max(0, last.settled - this.settledAt(from)) / seconds;
  }

  /** Settled resources at `at`, interpolated between the samples around it. */
  private settledAt(at: number): number {
    let before = this.samples[0]!;
    for (const sample of this.samples) {
      if (sample.at > at) {
        const span = sample.at - before.at;
        return span > 0 ? before.settled + ((sample.settled - before.settled) * (at - before.at)) / span : sample.settled;
      }
      before = sample;
    }
    return before.settled;
  }
}
