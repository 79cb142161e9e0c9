/** The workflow bundle's entry point: every workflow the worker registers. */
export { jobWorkflow, summaryQuery, resourcesQuery } from './job-workflow.js';
