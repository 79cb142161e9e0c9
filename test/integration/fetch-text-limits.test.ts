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
  it('fails a listing over FETCHBOX_FETCH_TEXT_MAX_BYTES with too_large, alone: the listing under it on the same page expands', async () => {
    expect(stack.config.fetch).toMatchObject({ textMaxBytes: CAP, textDeadlineMs: 5000 });
    const jobId = uniqueJobId('text-cap');
    const many = Array.from({ length: 40 }, (_, i) => `file-${i}.bin`).join(',');
    const submitted = await stack.submit({
      jobId,
      handler: 'link-expander',
      resources: [
        { id: 'small', url: `${origin.url}/listing/small?files=a.bin,b.bin` },
        { id: 'large', url: `${origin.url}/listing/large?files=${many}` },
        { id: 'other', url: `${origin.url}/listing/other?files=c.bin` },
      ],
    });
    expect(submitted.status).toBe(202);
    // One page: its expand threw for `large`, so FetchBox asked again one listing at a time.
    expect(await stack.waitForJob(jobId)).toMatchObject({ status: 'completed_with_failures', resources: { succeeded: 3, failed: 1 } });
    const states = await stack.allResources(jobId);
    expect(
      states
        .filter((s) => s.status === 'succeeded')
        .map((s) => s.url)
        .sort(),
    ).toEqual([`${origin.url}/listing/other/c.bin`, `${origin.url}/listing/small/a.bin`, `${origin.url}/listing/small/b.bin`]);
    const failed = states.filter((s) => s.status === 'failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ id: 'large', error: { kind: 'handler' } });
    // Refused by its Content-Length (about 1.9 KB) before the body is read, at the configured cap.
    expect(failed[0]!.error.message).toMatch(/^handler expand failed: too_large: .* 600 bytes$/);
    // None of the large listing's files was requested: it never became tasks.
    expect([...origin.hits.keys()].filter((p) => p.startsWith('/listing/large/'))).toEqual([]);
  }, 60_000);

  it('still fails the page as one when every listing on it fails', async () => {
    const jobId = uniqueJobId('text-cap-all');
    const many = Array.from({ length: 40 }, (_, i) => `file-${i}.bin`).join(',');
    const resources = [1, 2].map((n) => ({ id: `l${n}`, url: `${origin.url}/listing/big${n}?files=${many}` }));
    expect((await stack.submit({ jobId, handler: 'link-expander', resources })).status).toBe(202);
    expect(await stack.waitForJob(jobId)).toMatchObject({ status: 'completed_with_failures', resources: { succeeded: 0, failed: 2 } });
    for (const s of await stack.allResources(jobId)) expect(s.error.message).toMatch(/^handler expand failed: too_large: /);
  }, 60_000);
});
