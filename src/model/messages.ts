/**
 * The messages FetchBox's workflows answer: queries, the retry Update and the retry signal, and the
 * host coordinator's lease Update. Kept apart from the workflow functions so the API, the ledger
 * reader and the worker's host broker import the definitions without the workflow code.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { HostLeaseGrant, HostLeaseRequest } from './host-types.js';
import type { InlinePageAnswer, JobProgress, PageProgress, ResourceState, RetryAnswer } from './job-types.js';

/** Counts of finished pages plus the pages running now. */
export const summaryQuery = defineQuery<JobProgress>('summary');
/**
 * Downloads the job's failed resources again once the current pass is done: the `retry` Update
 * without an answer or a validator. The API sends the Update; the signal stays registered (a
 * `temporal workflow signal --name retryFailed` still asks for a round).
 */
export const retrySignal = defineSignal('retryFailed');
/**
 * Downloads the job's failed resources again once the current pass is done, answering whether a
 * retry round will run. Its validator refuses a job that is being canceled or is failing. The API
 * sends it to a running job, and with Update-With-Start to a closed one (a new run that carries the
 * closed run's counts and runs only the retry round).
 */
export const retryUpdate = defineUpdate<RetryAnswer>('retry');

/** Live counts of a running page. */
export const pageSummaryQuery = defineQuery<PageProgress>('pageSummary');
/** States of every resource of a running page (pending until its download settles). */
export const pageStatesQuery = defineQuery<ResourceState[]>('pageStates');
/**
 * Page 0's first round of a job that runs it inline (JobWorkflowInput.inlineRun): its result once
 * finished, its live states while it runs. Answered by the job workflow; the ledger reader asks it
 * where a page child would be asked.
 */
export const inlinePageQuery = defineQuery<InlinePageAnswer>('inlinePage');

/** A worker's lease request: reports what it holds and wants, answers what it may hold (src/workflows/host-coordinator-workflow.ts). */
export const hostLeaseUpdate = defineUpdate<HostLeaseGrant, [HostLeaseRequest]>('hostLease');
