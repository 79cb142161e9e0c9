/** Milliseconds per unit of a duration string (`d` is 24 h: Temporal's retention has no calendar). */
const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000 } as const;

const DURATION = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

/**
 * `7d`, `168h`, `1d12h`, `90m`, `3600s` → milliseconds; undefined for anything else (a bare
 * number is refused: hours or milliseconds would be a guess). The one parser for duration
 * settings such as `temporal.retention`, so env vars and config files read alike.
 */
export function parseDurationMs(text: string): number | undefined {
  const trimmed = text.trim();
  const m = DURATION.exec(trimmed);
  if (!m || trimmed === '') return undefined;
  const [, d, h, min, s] = m;
  return Number(d ?? 0) * UNIT_MS.d + Number(h ?? 0) * UNIT_MS.h + Number(min ?? 0) * UNIT_MS.m + Number(s ?? 0) * UNIT_MS.s;
}

/** Milliseconds as the shortest exact `<d>d<h>h<m>m<s>s` string (`259200000` → `3d`), for logs and messages. */
export function formatDurationMs(ms: number): string {
  let rest = Math.round(ms / 1_000) * 1_000;
  let out = '';
  for (const [unit, size] of Object.entries(UNIT_MS)) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out === '' ? '0s' : out;
}
