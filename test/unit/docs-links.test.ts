import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/temporal/temporal-cli.js';

// The documentation check: every relative link resolves (file and heading), every document is in
// the index. (Settings and metrics are checked against the code in docs-config and deploy-files.)
const docsDir = path.join(projectRoot, 'docs');
const documents = [
  'README.md',
  ...readdirSync(docsDir)
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes. */
function anchors(markdown: string): Set<string> {
  const out = new Set<string>();
  for (const line of markdown.replace(/```[\s\S]*?```/g, '').split('\n')) {
    const m = /^#{1,6}\s+(.*)$/.exec(line);
    if (m)
      out.add(
        m[1]!
          .trim()
          .toLowerCase()
          .replace(/[^\w\- ]+/g, '')
          .replace(/ /g, '-'),
      );
  }
  return out;
}

describe('documentation', () => {
  it.each(documents)('%s: every relative link resolves', (doc) => {
    const text = readFileSync(path.join(projectRoot, doc), 'utf8').replace(/```[\s\S]*?```/g, '');
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1]!;
      if (/^[a-z]+:/i.test(target)) continue; // http:, https:, mailto:
      const [file, anchor] = target.split('#') as [string, string | undefined];
      const resolved = file === '' ? path.join(projectRoot, doc) : path.resolve(path.dirname(path.join(projectRoot, doc)), file);
      expect(existsSync(resolved), `${doc} links to missing ${target}`).toBe(true);
      if (anchor && resolved.endsWith('.md')) {
        expect(anchors(readFileSync(resolved, 'utf8')), `${doc} links to missing heading ${target}`).toContain(anchor);
      }
    }
  });

  it('lists every document in docs/README.md', () => {
    const index = readFileSync(path.join(docsDir, 'README.md'), 'utf8');
    for (const doc of documents.filter((d) => d.startsWith('docs/') && d !== 'docs/README.md')) {
      expect(index, doc).toContain(`](${path.basename(doc)})`);
    }
  });

  it('points the README to the docs index and has the two quickstart commands', () => {
    const readme = readFileSync(path.join(projectRoot, 'README.md'), 'utf8');
    expect(readme).toContain('](docs/README.md)');
    expect(readme).toMatch(/^npm run dev\b/m);
    expect(readme).toMatch(/^npm test\b/m);
    expect(readFileSync(path.join(projectRoot, '.ci', 'run'), 'utf8')).toMatch(/^npm test$/m);
  });
});
