import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Client, Connection } from '@temporalio/client';
import { SearchAttributes } from '../../../src/model/search-attributes.js';
import type { ClusterInfo } from './cluster.js';
import { waitUntil } from './processes.js';

/** A Temporal client connection to the run's frontend with its CA and client certificate (mTLS). */
export async function connectCluster(cluster: ClusterInfo): Promise<Connection> {
  return Connection.connect({
    address: cluster.temporalAddress,
    tls: {
      serverNameOverride: cluster.certs.serverName,
      serverRootCACertificate: await readFile(cluster.certs.caCert),
      clientCertPair: { crt: await readFile(cluster.certs.clientCert), key: await readFile(cluster.certs.clientKey) },
    },
  });
}

/**
 * Waits until the frontend accepts a workflow carrying FetchBox's search attributes, and returns
 * how long that took. On a fresh cluster `fetchbox worker` registers them at start, but starting a
 * workflow with them fails ("Namespace default has no mapping defined for search attribute
 * FetchBoxHandler"; the API answers 500) until the frontend's namespace cache has refreshed.
 * Probes with a workflow on an unpolled task queue, terminated at once.
 */
export async function waitForSearchAttributes(connection: Connection, namespace: string): Promise<number> {
  const started = Date.now();
  const client = new Client({ connection, namespace });
  await waitUntil(
    'search attributes in the namespace cache',
    async () => {
      const probe = await client.workflow.start('searchAttributeProbe', {
        taskQueue: 'fetchbox-search-attribute-probe',
        workflowId: `probe-${randomUUID()}`,
        typedSearchAttributes: [{ key: SearchAttributes.handler, value: 'probe' }],
      });
      await probe.terminate('probe');
      return true;
    },
    60_000,
  );
  return Date.now() - started;
}
