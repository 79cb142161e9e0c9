import { Runtime, makeTelemetryFilterString } from '@temporalio/worker';

// One quiet Temporal runtime per test process: SDK and core logs at ERROR only, so expected
// failures (non-determinism probes, canceled activities) do not drown vitest's report.
Runtime.install({
  logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} } as never,
  telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR', other: 'ERROR' }), forward: {} } },
});
