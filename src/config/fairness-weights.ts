import { z } from 'zod';

/**
 * Temporal's bounds on a fairness weight (the server clamps to them); a weight outside is refused
 * at start rather than silently clamped.
 */
export const FAIRNESS_WEIGHT_BOUNDS = { min: 0.001, max: 1000 } as const;

/** Temporal refuses fairness keys over 64 bytes (UTF-8). */
export const FAIRNESS_KEY_MAX_BYTES = 64;

/** A fairness key's weight: a positive number within {@link FAIRNESS_WEIGHT_BOUNDS}. */
const weightSchema = z.coerce.number().min(FAIRNESS_WEIGHT_BOUNDS.min).max(FAIRNESS_WEIGHT_BOUNDS.max);

/** A fairness key as written in the weights: 1 to 64 bytes, no `=` or `,` (the env syntax's separators). */
const keySchema = z
  .string()
  .min(1)
  .refine((key) => Buffer.byteLength(key, 'utf8') <= FAIRNESS_KEY_MAX_BYTES, `a fairness key is at most ${FAIRNESS_KEY_MAX_BYTES} bytes`)
  .refine((key) => !/[=,\s]/.test(key), 'a fairness key has no "=", "," or whitespace');

/**
 * Parses `FETCHBOX_FAIRNESS_WEIGHTS` text, `<key>=<weight>[,<key>=<weight>...]` (e.g.
 * `crawler-a=2,crawler-b=1`), into entries; the last `=` of an entry splits it, so a key may be
 * `token:2` or `peer:127.0.0.1`. Reports each bad entry by position, never silently skips one.
 */
function parseWeightsText(text: string, ctx: z.RefinementCtx): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  text
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0)
    .forEach((entry, i) => {
      const at = entry.lastIndexOf('=');
      if (at <= 0 || at === entry.length - 1) {
        ctx.addIssue({ code: 'custom', message: `entry ${i + 1} (${JSON.stringify(entry)}) is not <key>=<weight>` });
        return;
      }
      out[entry.slice(0, at).trim()] = entry.slice(at + 1).trim();
    });
  return out;
}

/**
 * The operator's fairness weights per fairness key (a client: a token's name, `token:<n>` or
 * `peer:<address>`), sent as `fairnessWeight` when a job's workflow starts: Temporal dispatches the
 * tasks of the keys in proportion to their weights (1 for a key not listed). From the env as
 * `crawler-a=2,crawler-b=1`, or a map in the config file.
 */
export const fairnessWeightsSchema = z
  .union([z.string(), z.record(z.string(), z.union([z.number(), z.string()]))])
  .default({})
  .transform((raw, ctx) => (typeof raw === 'string' ? parseWeightsText(raw, ctx) : raw))
  .pipe(z.record(keySchema, weightSchema));

/** Parsed fairness weights: fairness key to weight. */
export type FairnessWeights = z.infer<typeof fairnessWeightsSchema>;
