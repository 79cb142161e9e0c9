// ESLint flat config. Type-aware rules for src/ and test/, plus a fence around src/workflows:
// workflow code runs in Temporal's deterministic sandbox and must not reach Node built-ins or
// any module that does I/O (only @temporalio/workflow, @temporalio/common and types).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

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
              regex: '^(?!@temporalio/(workflow|common)$|\\./[^/]+\\.js$|\\.\\./activities/create-activities\\.js$)',
              message: 'Workflow code may import only @temporalio/workflow, @temporalio/common and sibling workflow files.',
            },
            {
              regex: '^\\.\\./activities/',
              allowTypeImports: true,
              message: "Workflows import activity types only: `import type { Activities } from '../activities/create-activities.js'`.",
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'No process access in workflows.' },
        { name: 'fetch', message: 'No network I/O in workflows: do it in an activity.' },
        { name: 'require', message: 'No dynamic requires in workflows.' },
        { name: 'setInterval', message: 'Use workflow.sleep / condition in workflows.' },
      ],
    },
  },
  {
    files: ['bin/**/*.js', 'scripts/**/*.mjs', 'test/**/*.mjs', 'bench/**/*.mjs', 'eslint.config.js'],
    languageOptions: { globals: { process: 'readonly', URL: 'readonly' } },
  },
);
