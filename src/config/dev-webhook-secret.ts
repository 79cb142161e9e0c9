import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** The file under the data dir where `fetchbox dev` keeps its webhook secret. */
export const DEV_WEBHOOK_SECRET_FILE = 'webhook-secret';

/**
 * `fetchbox dev`'s webhook secret when FETCHBOX_WEBHOOK_SECRET is unset: read from
 * `<dataDir>/webhook-secret`, or generated there (`whsec_` and 32 random bytes, mode 0600) on the
 * first start, so a receiver keeps verifying across restarts of the dev stack.
 */
export async function devWebhookSecret(dataDir: string): Promise<{ secret: string; file: string; created: boolean }> {
  const file = path.join(dataDir, DEV_WEBHOOK_SECRET_FILE);
  const kept = await readFile(file, 'utf8').then(
    (text) => text.trim(),
    () => '',
  );
  if (/^whsec_[A-Za-z0-9+/]+={0,2}$/.test(kept)) return { secret: kept, file, created: false };
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  await writeFile(file, `${secret}\n`, { mode: 0o600 });
  return { secret, file, created: true };
}
