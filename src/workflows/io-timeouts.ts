/**
 * How long the job's and pages' I/O activities (`publishManifest`, `loadPage`, `failedTasks`) may
 * go without a heartbeat. They heartbeat every 5 s while they run (activities/keep-alive.ts), so
 * a worker that dies in one is noticed after this, not after the 5-minute start-to-close.
 */
export const IO_HEARTBEAT_TIMEOUT = '30 seconds';

/**
 * The timeouts of the I/O activities: 5 minutes start-to-close (a handler's listings may take
 * that long) and the heartbeat timeout.
 */
export function ioTimeouts(): { startToCloseTimeout: string; heartbeatTimeout: string } {
  return { startToCloseTimeout: '5 minutes', heartbeatTimeout: IO_HEARTBEAT_TIMEOUT };
}
