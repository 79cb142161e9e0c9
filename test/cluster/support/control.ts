import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { listenLoopback } from '../../support/ports.js';

/** What tests may ask the process that owns the cluster to do. */
export const CLUSTER_ACTIONS = ['temporal/kill', 'temporal/start'] as const;

/** One of CLUSTER_ACTIONS. */
export type ClusterAction = (typeof CLUSTER_ACTIONS)[number];

/** How a test reaches the control endpoint (provided by the global setup). */
export interface ClusterControlInfo {
  url: string;
  token: string;
}

/**
 * A loopback HTTP endpoint in the global setup's process, which owns the cluster's processes:
 * tests (in forked workers) POST an action to kill or start the Temporal server, so the process
 * that stops everything at the end always knows the current one. A random token guards it.
 */
export async function startClusterControl(
  actions: Record<ClusterAction, () => Promise<void>>,
): Promise<ClusterControlInfo & { close(): Promise<void> }> {
  const token = randomUUID();
  const server = createServer((req, res) => {
    const action = (req.url ?? '').slice(1) as ClusterAction;
    if (req.method !== 'POST' || req.headers.authorization !== `Bearer ${token}` || !CLUSTER_ACTIONS.includes(action)) {
      res.writeHead(404).end();
      return;
    }
    actions[action]().then(
      () => res.writeHead(204).end(),
      (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(String((err as Error).stack ?? err)),
    );
  });
  const { url, close } = await listenLoopback(server);
  return { url, token, close };
}
