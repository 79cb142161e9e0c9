import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENV_VARS, loadConfig } from '../../src/config/load-config.js';
import { projectRoot } from '../../src/temporal/temporal-cli.js';

const doc = readFileSync(path.join(projectRoot, 'docs', 'configuration.md'), 'utf8');

describe('docs/configuration.md', () => {
  it.each(Object.entries(ENV_VARS))('documents %s as %s', (name, configPath) => {
    const row = doc.split('\n').find((line) => line.startsWith(`| \`${name}\` |`));
    expect(row, `no table row for ${name}`).toBeDefined();
    expect(row).toContain(`\`${configPath}\``);
  });

  it('states each scalar default as the schema has it', () => {
    const defaults = loadConfig({});
    for (const [name, configPath] of Object.entries(ENV_VARS)) {
      const value = configPath.split('.').reduce<any>((node, part) => node?.[part], defaults);
      if (typeof value !== 'number' && typeof value !== 'boolean' && typeof value !== 'string') continue;
      if (name === 'FETCHBOX_STORAGE_URL') continue; // documented as derived from the data dir
      if (value === '') continue; // documented in words ("empty")
      const row = doc.split('\n').find((line) => line.startsWith(`| \`${name}\` |`))!;
      expect(row, name).toContain(`\`${String(value)}\``);
    }
  });
});
