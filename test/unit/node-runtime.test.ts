import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isSupportedNode } from '../../src/cli/node-version.js';

const projectRoot = path.resolve(import.meta.dirname, '../..');
const pkg = JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as {
  engines: { node: string };
  devDependencies: Record<string, string>;
};

describe('Node.js runtime', () => {
  it('the suite itself runs on a supported Node (the npm scripts pick one)', () => {
    expect(isSupportedNode(process.versions.node), process.version).toBe(true);
  });

  it('isSupportedNode: 22.19+ (undici 8) and 24+, not 20 or early 22', () => {
    expect(isSupportedNode('20.20.2')).toBe(false);
    expect(isSupportedNode('22.18.0')).toBe(false);
    expect(isSupportedNode('23.9.0')).toBe(false);
    expect(isSupportedNode('22.19.0')).toBe(true);
    expect(isSupportedNode('24.21.0')).toBe(true);
    expect(isSupportedNode('26.1.0')).toBe(true);
  });

  it('engines, @types/node and the Dockerfile agree on Node 24', () => {
    expect(pkg.engines.node).toBe('^22.19.0 || >=24.0.0');
    expect(pkg.devDependencies['@types/node']).toMatch(/^\^24\./);
    const froms = readFileSync(path.join(projectRoot, 'Dockerfile'), 'utf8').match(/^FROM \S+/gm) ?? [];
    expect(froms.length).toBeGreaterThan(0);
    for (const from of froms) expect(from).toMatch(/^FROM node:24-/);
  });

  it('scripts/node-env.sh keeps a supported node from PATH and reports it', () => {
    // The node running this test is supported, so node-env must pick it, not a second copy.
    const dir = path.dirname(process.execPath);
    const out = execFileSync('bash', ['-c', '. scripts/node-env.sh && command -v node'], {
      cwd: projectRoot,
      encoding: 'utf8',
      env: { PATH: `${dir}:/usr/bin:/bin`, HOME: process.env.HOME ?? '/tmp' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    expect(out.trim()).toBe(process.execPath);
  });

  it('scripts/node-env.sh refuses a FETCHBOX_NODE that is not executable', () => {
    expect(() =>
      execFileSync('bash', ['-c', '. scripts/node-env.sh'], {
        cwd: projectRoot,
        env: { PATH: '/usr/bin:/bin', FETCHBOX_NODE: '/nonexistent/node' },
        stdio: 'pipe',
      }),
    ).toThrow(/not an executable/);
  });
});
