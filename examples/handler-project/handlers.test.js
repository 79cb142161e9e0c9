// The handler's unit test: FetchBox's own activities run its hooks against a loopback origin and a
// temporary directory, with no Temporal server (`node --test`).
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { text } from 'node:stream/consumers';
import { test } from 'node:test';
import { createHandlerHarness } from 'fetchbox/testing';
import { catalogHandler } from './handlers.js';

/** A loopback origin that answers every path with `hello <path>` and records the Authorization header. */
async function startOrigin(t) {
  const authorizations = [];
  const server = createServer((req, res) => {
    authorizations.push(req.headers.authorization);
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`hello ${req.url}`);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => server.close(resolve)));
  return { url: `http://127.0.0.1:${server.address().port}`, authorizations };
}

test('downloads with the team token into catalog/<jobId>/, tagged with the source', async (t) => {
  const origin = await startOrigin(t);
  const harness = await createHandlerHarness(catalogHandler, {
    jobId: 'job-1',
    allowCidrs: ['127.0.0.1/32'],
    settings: { token: 't0k3n' },
    metadata: { source: 'spring sale' },
  });
  t.after(() => harness.close());

  const { tasks } = await harness.expand([{ id: 'item 1', url: `${origin.url}/items/1.txt` }]);
  assert.equal(tasks.length, 1);
  assert.equal(tasks[0].key, 'catalog/job-1/item_1.txt');

  const result = await harness.download(tasks[0]);
  assert.equal(result.bytes, 'hello /items/1.txt'.length);
  assert.deepEqual(origin.authorizations, ['Bearer t0k3n']);
  assert.equal(await text(await harness.storage.get('catalog/job-1/item_1.txt')), 'hello /items/1.txt');
  assert.equal((await harness.storage.head('catalog/job-1/item_1.txt'))?.metadata?.source, 'spring_sale');
  assert.equal(harness.policy.concurrency, 4);
  assert.equal(harness.policy.retry.maximumAttempts, 3);
});

test('fails the resource with a handler error when the token is not configured', async (t) => {
  const origin = await startOrigin(t);
  const harness = await createHandlerHarness(catalogHandler, { allowCidrs: ['127.0.0.1/32'] });
  t.after(() => harness.close());
  const { tasks } = await harness.expand([{ id: 'x', url: `${origin.url}/x` }]);
  await assert.rejects(harness.download(tasks[0]), (err) => err.type === 'handler' && /FETCHBOX_HANDLER_CATALOG_TOKEN/.test(err.message));
  assert.deepEqual(origin.authorizations, []);
});
