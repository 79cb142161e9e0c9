import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOrigin, type Origin } from '../support/origin.js';
import { startStack, uniqueJobId, type Stack } from '../support/stack.js';

// The worker applies FETCHBOX_FETCH_TEXT_MAX_BYTES to handlers' ctx.fetchText: with a 600-byte
// cap, a listing of 2 files (about 250 bytes of HTML) expands and a listing of 40 (about 2 KiB)
// fails its resource, while the rest of the job runs.
const CAP = 600;

let origin: Origin;
let stack: Stack;
beforeAll(async () => {
  origin = await startOrigin();
  stack = await startStack('file', { FETCHBOX_FETCH_TEXT_MAX_BYTES: String(CAP), FETCHBOX_FETCH_TEXT_DEADLINE_MS: '5000' });
});
afterAll(async () => {
  await stack?.close();
  await origin?.close();
});

describe('configured ctx.fetchText limits', () => {
  it('fails a listing over FETCHBOX_FETCH_TEXT_MAX_BYTES with too_large and expands one under it', async () => {
    expect(stack.config.fetch).toMatchObject({ textMaxBytes: CAP, textDeadlineMs: 5000 });
    // expand runs once per page, and a throwing hook fails the page's resources: one job each.
    const small = uniqueJobId('text-cap-small');
    const large = uniqueJobId('text-cap-large');
    const many = Array.from({ length: 40 }, (_, i) => `file-${i}.bin`).join(',');
    const submit = (jobId: string, url: string) => stack.submit({ jobId, handler: 'link-expander', resources: [{ id: 'listing', url }] });
    expect((await submit(small, `${origin.url}/listing/small?files=a.bin,b.bin`)).status).toBe(202);
    expect((await submit(large, `${origin.url}/listing/large?files=${many}`)).status).toBe(202);

    expect(await stack.waitForJob(small)).toMatchObject({ status: 'completed', resources: { succeeded: 2, failed: 0 } });
    expect((await stack.allResources(small)).map((s) => s.url).sort()).toEqual([
      `${origin.url}/listing/small/a.bin`,
      `${origin.url}/listing/small/b.bin`,
    ]);

    expect(await stack.waitForJob(large)).toMatchObject({ status: 'completed_with_failures', resources: { succeeded: 0, failed: 1 } });
    const [state] = await stack.allResources(large);
    expect(state).toMatchObject({ id: 'listing', status: 'failed', error: { kind: 'handler' } });
    // Refused by its Content-Length (1,865 bytes) before reading the body, at the configured cap.
    expect(state!.error.message).toMatch(/^handler expand failed: too_large: .* 600 bytes$/);
    // None of the large listing's files was requested: it never became tasks.
    expect([...origin.hits.keys()].filter((p) => p.startsWith('/listing/large/'))).toEqual([]);
  }, 60_000);
});
