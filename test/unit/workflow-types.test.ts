import { describe, expect, it } from 'vitest';
import { WorkflowTypes } from '../../src/model/ids.js';
import { jobWorkflow, pageWorkflow } from '../../src/workflows/index.js';

describe('WorkflowTypes', () => {
  it('names the functions the worker registers (the API starts and lists jobs by these names)', () => {
    expect(WorkflowTypes.job).toBe(jobWorkflow.name);
    expect(WorkflowTypes.page).toBe(pageWorkflow.name);
  });
});
