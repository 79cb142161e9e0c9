/**
 * The proxy tier for an attempt (1-based): the first `attemptsPerTier` attempts use tier 0, the
 * next ones tier 1, and so on, staying on the last. Every earlier attempt failed retryably
 * (a permanent failure ends the retries), so this is "move on when the tier fails".
 */
export function tierForAttempt(tiers: readonly string[], attemptsPerTier: number, attempt: number): string {
  if (tiers.length === 0) return 'direct';
  const index = Math.min(Math.floor((attempt - 1) / Math.max(attemptsPerTier, 1)), tiers.length - 1);
  return tiers[index]!;
}
