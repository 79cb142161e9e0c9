import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(
    entries.map((e) =>
      e.isDirectory() ? sourceFiles(path.join(dir, e.name)) : Promise.resolve(e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []),
    ),
  );
  return nested.flat();
}

/** Static imports and re-exports that stay in the emitted JavaScript (`import type` is erased; `import { type X }` is not). */
function runtimeImports(source: string): string[] {
  const specifiers: string[] = [];
  for (const m of source.matchAll(/^\s*(import|export)\s+(type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]/gm)) {
    if (m[2] === undefined && (m[1] === 'import' || /\bfrom\b/.test(m[0]))) specifiers.push(m[3]!);
  }
  return specifiers;
}

describe('src/ and the production install', () => {
  it('never imports a development dependency at load time (dist/ runs without them)', async () => {
    const pkg = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
    const devOnly = Object.keys(pkg.devDependencies);
    const offenders: string[] = [];
    for (const file of await sourceFiles(path.join(root, 'src'))) {
      for (const spec of runtimeImports(await readFile(file, 'utf8'))) {
        if (devOnly.some((d) => spec === d || spec.startsWith(`${d}/`))) offenders.push(`${path.relative(root, file)}: ${spec}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('sees the imports it checks (the scan itself works)', () => {
    expect(
      runtimeImports(
        "import { a } from 'x';\nimport type { B } from 'y';\nimport { type C } from 'z';\nexport { d } from 'w';\nimport 'side';",
      ),
    ).toEqual(['x', 'z', 'w', 'side']);
  });
});
