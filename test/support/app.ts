import { pino } from 'pino';
import { createApp, type App, type AppDeps } from '../../src/api/app.js';
import type { JobService } from '../../src/api/job-service.js';

/**
 * The API app as tests build it: a silent logger, no readiness checks and a 1 MiB body limit,
 * unless `deps` says otherwise. One place, so a dependency `createApp` gains is added once.
 */
export function testApp(jobs: JobService, deps: Partial<Omit<AppDeps, 'jobs'>> = {}): App {
  return createApp({ jobs, logger: pino({ level: 'silent' }), bodyLimitBytes: 1 << 20, checks: [], ...deps });
}

/** POSTs `body` as JSON through an app (no network), with extra `headers`. */
export function postJson(app: App, url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return Promise.resolve(
    app.request(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) }),
  );
}
