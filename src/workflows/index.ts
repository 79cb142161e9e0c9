/** The workflow bundle's entry point: every workflow the worker registers. */
export { jobWorkflow, summaryQuery, retrySignal, retryUpdate } from './job-workflow.js';
export { pageWorkflow, pageSummaryQuery, pageStatesQuery } from './page-workflow.js';
