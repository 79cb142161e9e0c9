import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LIVE_PATCHES } from '../../src/workflows/patches.js';

// Ties the patch registry (src/workflows/patches.ts) to the code and to the recordings: every id
// workflow code versions with is registered, and every registered id is guarded by a recorded
// history that carries its marker (docs/development.md, "Versioning workflow code").

const root = path.resolve(import.meta.dirname, '../..');
const workflowsDir = path.join(root, 'src', 'workflows');
const historiesDir = path.join(root, 'test', 'fixtures', 'histories');

/** Patch ids passed as string literals to `patched(...)` or `deprecatePatch(...)` in `source`. */
function patchIdsIn(source: string): string[] {
  return [...source.matchAll(/\b(?:patched|deprecatePatch)\(\s*(['"`])([^'"`]+)\1\s*\)/g)].map((m) => m[2]!);
}

/** Calls whose id is not a string literal: the scan could not see their id. */
function nonLiteralCalls(source: string): string[] {
  return [...source.matchAll(/\b(?:patched|deprecatePatch)\(\s*[^\s)'"`][^)]*\)/g)].map((m) => m[0]);
}

/** Ids of the `patched()` markers a history in the CLI's JSON form recorded (`core_patch` markers). */
function markerIdsOf(history: unknown): string[] {
  const ids: string[] = [];
  for (const event of (history as { events?: Record<string, unknown>[] }).events ?? []) {
    const marker = event.markerRecordedEventAttributes as
      { markerName?: string; details?: Record<string, { payloads?: { data?: string }[] }> } | undefined;
    if (marker?.markerName !== 'core_patch') continue;
    for (const payload of marker.details?.['patch-data']?.payloads ?? []) {
      const data = JSON.parse(Buffer.from(payload.data ?? '', 'base64').toString('utf8')) as { id?: unknown };
      if (typeof data.id === 'string') ids.push(data.id);
    }
  }
  return ids;
}

async function workflowSources(): Promise<Map<string, string>> {
  const files = (await readdir(workflowsDir)).filter((f) => f.endsWith('.ts'));
  return new Map(await Promise.all(files.map(async (f) => [f, await readFile(path.join(workflowsDir, f), 'utf8')] as const)));
}

describe('workflow patches', () => {
  it('registers every patch id workflow code uses, each written as a literal', async () => {
    const sources = await workflowSources();
    expect(sources.size).toBeGreaterThan(10);
    const used = new Set<string>();
    const opaque: string[] = [];
    for (const [file, source] of sources) {
      for (const id of patchIdsIn(source)) used.add(id);
      for (const call of nonLiteralCalls(source)) opaque.push(`${file}: ${call}`);
    }
    expect(opaque).toEqual([]);
    expect([...used].filter((id) => !(id in LIVE_PATCHES))).toEqual([]);
  });

  it('guards every registered patch with a recording that carries its marker', async () => {
    const files = (await readdir(historiesDir)).filter((f) => f.endsWith('.json'));
    const recorded = new Set<string>();
    for (const f of files) for (const id of markerIdsOf(JSON.parse(await readFile(path.join(historiesDir, f), 'utf8')))) recorded.add(id);
    expect(Object.keys(LIVE_PATCHES).filter((id) => !recorded.has(id))).toEqual([]);
  });

  it('sees the calls and markers it checks (the scans themselves work)', () => {
    const source = 'if (patched(\'a-b\')) x();\ndeprecatePatch("c");\n// `patched()` in a comment\nif (patched(ID)) y();';
    expect(patchIdsIn(source)).toEqual(['a-b', 'c']);
    expect(nonLiteralCalls(source)).toEqual(['patched(ID)']);
    const data = Buffer.from(JSON.stringify({ id: 'a-b', deprecated: false })).toString('base64');
    const history = {
      events: [
        { eventType: 'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED' },
        { markerRecordedEventAttributes: { markerName: 'core_patch', details: { 'patch-data': { payloads: [{ data }] } } } },
        { markerRecordedEventAttributes: { markerName: 'core_local_activity', details: {} } },
      ],
    };
    expect(markerIdsOf(history)).toEqual(['a-b']);
  });
});
