/**
 * The broker's coordinator through Temporal: each lease request is the `hostLease` Update sent
 * with Update-With-Start to `host-<host>`, so the first worker to need a host starts its
 * coordinator, and a coordinator that closed while idle is started again by the next request.
 */
import { WithStartWorkflowOperation, type Client } from '@temporalio/client';
import type { hostCoordinatorWorkflow } from '../workflows/host-coordinator-workflow.js';
import { hostLeaseUpdate } from '../workflows/host-messages.js';
import { hostCoordinatorId, WorkflowTypes } from '../workflows/ids.js';
import type { HostCoordinator } from './host-broker.js';

/** Coordinators run on the worker's task queue: any worker of the fleet runs their workflow tasks. */
export function temporalHostCoordinator(client: Client, taskQueue: string): HostCoordinator {
  return {
    lease(host, request) {
      const startWorkflowOperation = new WithStartWorkflowOperation<typeof hostCoordinatorWorkflow>(WorkflowTypes.hostCoordinator, {
        workflowId: hostCoordinatorId(host),
        taskQueue,
        args: [{ host }],
        workflowIdConflictPolicy: 'USE_EXISTING',
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
        staticSummary: `politeness of ${host}: permits leased to workers`,
      });
      return client.workflow.executeUpdateWithStart(hostLeaseUpdate, { args: [request], startWorkflowOperation });
    },
  };
}
