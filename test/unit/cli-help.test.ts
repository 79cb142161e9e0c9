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

  it('prints the jobs usage for fetchbox jobs --help and fetchbox jobs submit --help', async () => {
    for (const args of [
      ['jobs', '--help'],
      ['jobs', 'submit', '--help'],
      ['jobs', '-h'],
    ]) {
      const { code, out } = await run(args);
      expect(code, args.join(' ')).toBe(0);
      expect(out, args.join(' ')).toMatch(/^Usage: fetchbox jobs <command>/);
    }
  });

  it('prints each long-running command its own usage (fetchbox dev|api|worker --help), not the top-level one', async () => {
    for (const command of ['dev', 'api', 'worker']) {
      const { code, out } = await run([command, '--help']);
      expect(code, command).toBe(0);
      expect(out, command).toMatch(new RegExp(`^Usage: fetchbox ${command}\n`));
      expect(out, command).toMatch(/docs\/configuration\.md/);
    }
  });
});
