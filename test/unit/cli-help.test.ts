import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';

/** Runs `fetchbox <args>` in-process and returns its exit code and what it printed to stdout. */
async function run(args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  const code = await main(args);
  return { code, out };
}

afterEach(() => vi.restoreAllMocks());

describe('fetchbox --help', () => {
  it('prints the top-level usage for fetchbox --help', async () => {
    const { code, out } = await run(['--help']);
    expect(code).toBe(0);
    expect(out).toMatch(/^Usage: fetchbox <command>/);
  });

  it('prints the jobs usage (every subcommand) for fetchbox jobs --help', async () => {
    for (const args of [
      ['jobs', '--help'],
      ['jobs', '-h'],
    ]) {
      const { code, out } = await run(args);
      expect(code, args.join(' ')).toBe(0);
      expect(out, args.join(' ')).toMatch(/^Usage: fetchbox jobs <command>/);
    }
  });

  it('prints each jobs subcommand its own usage (fetchbox jobs <sub> --help), not the jobs overview', async () => {
    for (const sub of ['submit', 'get', 'list', 'resources', 'retry', 'cancel', 'tail']) {
      for (const flag of ['--help', '-h']) {
        const { code, out } = await run(['jobs', sub, flag]);
        expect(code, `jobs ${sub} ${flag}`).toBe(0);
        expect(out, `jobs ${sub} ${flag}`).toMatch(new RegExp(`^Usage: fetchbox jobs ${sub} `));
        expect(out, `jobs ${sub} ${flag}`).not.toMatch(/<command>/);
      }
    }
    // The bulk retry keeps its own page.
    expect((await run(['jobs', 'retry', '--where', 'status=failed', '--help'])).out).toMatch(/^Usage: fetchbox jobs retry --where/);
  });

  it('prints the failures usage for fetchbox failures --help', async () => {
    const { code, out } = await run(['failures', '--help']);
    expect(code).toBe(0);
    expect(out).toMatch(/^Usage: fetchbox failures/);
  });

  it('prints each long-running command its own usage (fetchbox dev|api|worker --help), not the top-level one', async () => {
    for (const command of ['dev', 'api', 'worker']) {
      const { code, out } = await run([command, '--help']);
      expect(code, command).toBe(0);
      expect(out, command).toMatch(new RegExp(`^Usage: fetchbox ${command} \\[--handlers <module>\\[,<module>\\.\\.\\.\\]\\]\n`));
      expect(out, command).toMatch(/FETCHBOX_HANDLERS/);
      expect(out, command).toMatch(/docs\/configuration\.md/);
    }
  });
});
