import { makeTelemetryFilterString, Runtime, type RuntimeOptions } from '@temporalio/worker';
import type { LogLevel, LogMetadata, Logger as TemporalLogger } from '@temporalio/common';
import type { Logger } from 'pino';

const PINO_LEVEL: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/** Temporal's Logger interface on top of pino, so SDK and core logs land in the same JSON stream. */
export function temporalLoggerFor(logger: Logger): TemporalLogger {
  const log = (level: LogLevel, message: string, meta?: LogMetadata) => logger[PINO_LEVEL[level]]({ ...meta, temporal: true }, message);
  return {
    log,
    trace: (m, meta) => log('TRACE', m, meta),
    debug: (m, meta) => log('DEBUG', m, meta),
    info: (m, meta) => log('INFO', m, meta),
    warn: (m, meta) => log('WARN', m, meta),
    error: (m, meta) => log('ERROR', m, meta),
  };
}

/** Core's filter level for a pino level (core is chatty: never below INFO). */
function coreLevel(level: string): 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' {
  if (level === 'trace' || level === 'debug' || level === 'info') return 'INFO';
  if (level === 'warn') return 'WARN';
  return 'ERROR';
}

/** How the Temporal runtime of a worker process is set up. */
export interface RuntimeSetup {
  logger: Logger;
  /** `host:port` for Temporal's own Prometheus exporter (SDK and workflow metrics); none when absent. */
  temporalMetricsAddress?: string;
}

/**
 * Installs the process-wide Temporal runtime once, before any worker or native connection:
 * SDK and core logs forwarded into pino at the configured level, and Temporal's Prometheus
 * exporter with seconds for durations and `_total` counters, the names the alert rules use.
 * The runtime listens to no signal (`shutdownSignals: []`): the SDK's default would shut the
 * worker down on SIGTERM before FetchBox's own handler (cli/main.ts) could log the drain and
 * close storage, metrics and connections in order; a second signal still exits at once there.
 */
export function installRuntime(setup: RuntimeSetup): void {
  const options: RuntimeOptions = {
    shutdownSignals: [],
    logger: temporalLoggerFor(setup.logger),
    telemetryOptions: {
      logging: { forward: {}, filter: makeTelemetryFilterString({ core: coreLevel(setup.logger.level), other: 'WARN' }) },
      ...(setup.temporalMetricsAddress
        ? {
            metrics: {
              metricPrefix: 'temporal_',
              prometheus: {
                bindAddress: setup.temporalMetricsAddress,
                useSecondsForDurations: true,
                countersTotalSuffix: true,
                unitSuffix: true,
              },
            },
          }
        : {}),
    },
  };
  Runtime.install(options);
}
