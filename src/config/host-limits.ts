/**
 * Which limit applies to a host: its override in the config file (`hosts."<host>"`), else the
 * default `politeness.hostConcurrency`. One rule, used by every worker's broker.
 */
import { z } from 'zod';

/** A host's politeness: requests in flight across the fleet, and the least time between two requests. */
export interface HostLimit {
  concurrency: number;
  minDelayMs: number;
}

/** One override: `concurrency` (0 = no limit for this host) and an optional minimum delay between requests. */
const hostOverrideSchema = z
  .object({
    concurrency: z.number().int().min(0).max(1_000),
    minDelayMs: z.number().int().min(0).max(3_600_000).optional(),
  })
  .strict()
  .refine((o) => o.minDelayMs === undefined || o.minDelayMs === 0 || o.concurrency > 0, {
    message: 'minDelayMs needs a concurrency of at least 1 (0 means no limit for the host)',
    path: ['minDelayMs'],
  });

/** The `hosts` section: overrides by host name or `name:port`, compared in lower case. */
export const hostsSchema = z
  .record(z.string().regex(/^[A-Za-z0-9.\-[\]:]+$/, 'a host name or name:port'), hostOverrideSchema)
  .default({})
  .transform((hosts) => Object.fromEntries(Object.entries(hosts).map(([host, o]) => [host.toLowerCase(), o])));

/** What limits apply; a `Config` has this shape (`politeness.hostConcurrency`, `hosts`). */
export interface HostLimitSettings {
  politeness: { hostConcurrency: number };
  hosts: Record<string, { concurrency: number; minDelayMs?: number | undefined }>;
}

/** Whether any host can have a limit: when not, workers skip politeness entirely (no broker, no cost). */
export function anyHostLimit(settings: HostLimitSettings): boolean {
  return settings.politeness.hostConcurrency > 0 || Object.values(settings.hosts).some((o) => o.concurrency > 0);
}

/**
 * The limit of `host` (as host-of.ts gives it: lower case, with its port when the URL has one):
 * the override for `name:port`, else for `name`, else the default; undefined means no limit.
 */
export function hostLimitFor(settings: HostLimitSettings, host: string): HostLimit | undefined {
  const bare = host.startsWith('[') ? host.replace(/(\])(:\d+)$/, '$1') : host.replace(/:\d+$/, '');
  const override = settings.hosts[host] ?? settings.hosts[bare];
  const concurrency = override ? override.concurrency : settings.politeness.hostConcurrency;
  if (concurrency === 0) return undefined;
  return { concurrency, minDelayMs: override?.minDelayMs ?? 0 };
}
