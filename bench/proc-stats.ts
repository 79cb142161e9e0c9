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
export function memoryMiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
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
