/** The workflow bundle's entry point: every workflow the worker registers. */
export { jobWorkflow } from './job-workflow.js';
export { pageWorkflow } from './page-workflow.js';
export { hostCoordinatorWorkflow } from './host-coordinator-workflow.js';
