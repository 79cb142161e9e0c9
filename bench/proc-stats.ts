import { readdirSync, readFileSync } from 'node:fs';

// What the benchmark reads from /proc about the processes it measures: CPU time, resident memory,
// and which process is the Temporal server listening on a port.

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ; 100 on Linux for all common builds). */
const TICKS_PER_SECOND = 100;

/** User + system CPU seconds the process has used so far (utime + stime of /proc/<pid>/stat). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces) start with field 3, `state`.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** A line of /proc/<pid>/status in MiB: VmRSS (now) or VmHWM (peak). */
export function memoryMiB(pid: number, field: 'VmRSS' | 'VmHWM' | 'RssAnon' | 'RssFile'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024;
}

/** The pid of the `temporal server start-dev` process serving `port`, if one is found. */
export function temporalServerPid(port: number): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let args: string[];
    try {
      args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const at = args.indexOf('--port');
    if (args.includes('start-dev') && at >= 0 && args[at + 1] === String(port)) return Number(entry);
  }
  return undefined;
}

/** CPU seconds of each thread of a process so far, summed by thread name (`comm`, e.g. libuv-worker). */
export function threadCpuSeconds(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended meanwhile
    }
    const name = tid === String(pid) ? 'main' : stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.set(name, (out.get(name) ?? 0) + (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND);
  }
  return out;
}

/** Per-thread-name CPU seconds spent between two threadCpuSeconds() readings, largest first, as text. */
export function threadCpuDelta(before: Map<string, number>, after: Map<string, number>, per1k: number): string {
  return [...after]
    .map(([name, s]) => [name, (s - (before.get(name) ?? 0)) * per1k] as const)
    .filter(([, s]) => s >= 0.005)
    .sort((a, b) => b[1] - a[1])
    .map(([name, s]) => `${name} ${s.toFixed(2)}`)
    .join(', ');
}

/**
 * Sums of a Prometheus text exposition's series by metric name, for names matching `pick` (e.g.
 * the worker's Temporal metrics: sticky cache hits, misses and forced evictions). Empty when the
 * endpoint does not answer.
 */
export async function scrapeMetrics(url: string, pick: RegExp): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  let text: string;
  try {
    const res = await fetch(url);
    text = await res.text();
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || !pick.test(m[1]!)) continue;
    out[m[1]!] = (out[m[1]!] ?? 0) + Number(m[2]);
  }
  return out;
}
