import { inject } from 'vitest';
import type { ClusterAction } from './control.js';

/** Asks the global setup to run `action` on the cluster and waits until it is done. */
export async function clusterControl(action: ClusterAction): Promise<void> {
  const { url, token } = inject('clusterControl');
  const res = await fetch(`${url}/${action}`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  if (res.status !== 204) throw new Error(`cluster control ${action}: ${res.status} ${await res.text()}`);
}
