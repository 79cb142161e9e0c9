// ESLint flat config. Type-aware rules for src/ and test/, plus a fence around src/workflows (and
// src/model, which they import): workflow code runs in Temporal's deterministic sandbox and must
// not reach Node built-ins, Buffer or any module that does I/O (only @temporalio/workflow,
// @temporalio/common, src/model and types).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

/** Globals workflow code must not touch: I/O, the process, Node's Buffer, and timers or randomness outside Temporal's control. */
const workflowGlobals = [
  { name: 'process', message: 'No process access in workflows.' },
  { name: 'fetch', message: 'No network I/O in workflows: do it in an activity.' },
  { name: 'require', message: 'No dynamic requires in workflows.' },
  { name: 'setInterval', message: 'Use workflow.sleep / condition in workflows.' },
  {
    name: 'Buffer',
    message: "Buffer is Node's, not the workflow sandbox's: work on strings (see clipJson in src/model/failure-rules.ts).",
  },
  { name: 'queueMicrotask', message: 'Use workflow.sleep / condition in workflows.' },
  { name: 'setImmediate', message: 'Use workflow.sleep / condition in workflows.' },
  { name: 'performance', message: 'No wall clock in workflows: Date.now() is workflow time.' },
  { name: 'crypto', message: 'No randomness outside Temporal: use workflow.uuid4() or Math.random() (seeded).' },
];

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.tools/', 'data/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'off',
      'no-console': 'error',
    },
  },
  {
    files: ['src/workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({ name, message: 'Workflow code is deterministic: no Node built-ins.' })),
          patterns: [
            {
              regex:
                '^(?!@temporalio/(workflow|common)$|\\./[^/]+\\.js$|\\.\\./model/[^/]+\\.js$|\\.\\./activities/create-activities\\.js$)',
              message: 'Workflow code may import only @temporalio/workflow, @temporalio/common, sibling workflow files and src/model.',
            },
            {
              regex: '^\\.\\./activities/',
              allowTypeImports: true,
              message: "Workflows import activity types only: `import type { Activities } from '../activities/create-activities.js'`.",
            },
          ],
        },
      ],
      'no-restricted-globals': ['error', ...workflowGlobals],
    },
  },
  {
    // What workflow code shares with the rest (shapes, constants, ids, pure rules, message
    // definitions): bundled with the workflows, so fenced the same way but for Buffer, which
    // page-budget.ts's jsonBytes uses outside workflow code.
    files: ['src/model/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({ name, message: 'src/model is bundled with the workflows: no Node built-ins.' })),
          patterns: [
            {
              regex: '^(?!@temporalio/(workflow|common)$|\\./[^/]+\\.js$)',
              message: 'src/model may import only @temporalio/workflow, @temporalio/common and its own files.',
            },
          ],
        },
      ],
      'no-restricted-globals': ['error', ...workflowGlobals.filter((g) => g.name !== 'Buffer')],
    },
  },
  {
    files: ['bin/**/*.js', 'scripts/**/*.mjs', 'test/**/*.mjs', 'bench/**/*.mjs', 'eslint.config.js'],
    languageOptions: { globals: { process: 'readonly', URL: 'readonly' } },
  },
);
