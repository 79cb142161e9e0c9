/**
 * The registry of live workflow patches: every id workflow code passes to `patched()` or
 * `deprecatePatch()`, with when it came, why, and when it may go. A patch is how a change to the
 * commands a workflow issues stays replayable for histories recorded before it (the rule and its
 * life cycle: docs/development.md, "Versioning workflow code"). test/unit/workflow-patches.test.ts
 * checks that every id in src/workflows is listed here and that each listed one has a recording
 * in test/fixtures/histories whose history carries its marker. Empty: no patch is live (the
 * pre-release patches were collapsed on 2026-12-07 after draining every job; docs/deployment.md).
 */

/** What the registry keeps about one live patch. */
export interface LivePatch {
  /** The day the patch shipped (YYYY-MM-DD). */
  since: string;
  /** What changed behind it, and why old histories need the other branch. */
  why: string;
  /**
   * When `patched()` may become `deprecatePatch()` (the old branch deleted): once no open workflow
   * lacks the marker, i.e. every job started before `since` has closed.
   */
  deprecateWhen: string;
  /** When the `deprecatePatch()` call may go: once every history that carries the marker is past retention. */
  removeWhen: string;
}

/** Live patch ids (the argument of `patched()` / `deprecatePatch()`), each with its record. */
export const LIVE_PATCHES = {} as const satisfies Readonly<Record<string, LivePatch>>;
