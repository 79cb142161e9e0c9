// Writes dist/workflow-bundle.js from the built workflows, so workers (and the container image)
// start without bundling at runtime. Run after `npm run build`: `npm run bundle:workflows`.
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode } from '@temporalio/worker';

const workflowsPath = fileURLToPath(new URL('../dist/workflows/index.js', import.meta.url));
const out = fileURLToPath(new URL('../dist/workflow-bundle.js', import.meta.url));
const { code } = await bundleWorkflowCode({ workflowsPath });
await writeFile(out, code);
process.stdout.write(`wrote ${out} (${(code.length / 1024 / 1024).toFixed(2)} MiB)\n`);
