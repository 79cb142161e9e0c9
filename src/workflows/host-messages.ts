/**
 * The host coordinator's Update, apart from the workflow function so the worker's broker imports
 * the definition without the workflow code.
 */
import { defineUpdate } from '@temporalio/workflow';
import type { HostLeaseGrant, HostLeaseRequest } from './host-types.js';

/** A worker's lease request: reports what it holds and wants, answers what it may hold (host-coordinator-workflow.ts). */
export const hostLeaseUpdate = defineUpdate<HostLeaseGrant, [HostLeaseRequest]>('hostLease');
