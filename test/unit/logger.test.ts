import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, resolveLogFormat } from '../../src/observability/logger.js';

/** Logs one record through a logger of `format` and returns what it wrote. */
async function logOnce(format: 'json' | 'pretty'): Promise<string> {
  const out = new PassThrough();
  let text = '';
  out.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  const logger = createLogger('info', { component: 'test' }, format, out);
  logger.info(
    {
      jobId: 'j1',
      headers: { authorization: 'Bearer secret', 'Proxy-Authorization': 'Basic proxysecret' },
      req: { headers: { Cookie: 'c=cookiesecret' } },
    },
    'job accepted',
  );
  logger.flush();
  await new Promise((resolve) => setImmediate(resolve));
  return text;
}

describe('log format', () => {
  it('auto is pretty on a terminal and JSON otherwise', () => {
    expect(resolveLogFormat('auto', true)).toBe('pretty');
    expect(resolveLogFormat('auto', false)).toBe('json');
    expect(resolveLogFormat('json', true)).toBe('json');
    expect(resolveLogFormat('pretty', false)).toBe('pretty');
  });

  it('json writes one parseable object a line, with credentials redacted', async () => {
    const text = await logOnce('json');
    const record = JSON.parse(text.trim()) as Record<string, any>;
    expect(record).toMatchObject({ msg: 'job accepted', jobId: 'j1', service: 'fetchbox', component: 'test', level: 30 });
    expect(record.headers.authorization).toBe('[redacted]');
    expect(record.headers['Proxy-Authorization']).toBe('[redacted]');
    expect(record.req.headers.Cookie).toBe('[redacted]');
  });

  it('pretty writes a readable line (level and message, no JSON), with credentials redacted', async () => {
    const text = await logOnce('pretty');
    expect(text).toMatch(/INFO.*job accepted/);
    expect(text).toContain('jobId: "j1"');
    for (const secret of ['Bearer secret', 'proxysecret', 'cookiesecret']) expect(text).not.toContain(secret);
    expect(() => JSON.parse(text.split('\n')[0]!)).toThrow();
  });
});
