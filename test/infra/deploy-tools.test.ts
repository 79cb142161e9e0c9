import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/temporal/temporal-cli.js';

// The deployment files checked by the tools that consume them: Prometheus's promtool and
// Alertmanager's amtool (scripts/tools.sh finds them on PATH or installs Debian's prometheus and
// prometheus-alertmanager). The `infra` project of `npm test`; the structural checks of the same
// files, which need no binary, are in test/unit/deploy-files.test.ts.

/** Runs a tool found on PATH, saying how to get it when it is missing. */
function run(tool: 'promtool' | 'amtool', args: string[], cwd = projectRoot): string {
  try {
    return execFileSync(tool, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw new Error(missing ? `${tool} is not on PATH: run npm run tools` : `${tool} ${args.join(' ')} failed: ${String(err)}`, {
      cause: err,
    });
  }
}

describe('Prometheus rules (deploy/prometheus)', () => {
  const cwd = path.join(projectRoot, 'deploy', 'prometheus');

  it('alerts.yml passes promtool check rules and its rule unit tests', () => {
    expect(run('promtool', ['check', 'rules', 'alerts.yml'], cwd)).toMatch(/SUCCESS: 11 rules found/);
    expect(run('promtool', ['test', 'rules', 'alerts.test.yml'], cwd)).toMatch(/SUCCESS/);
  });

  it('slo.yml passes promtool check rules and its rule unit tests', () => {
    expect(run('promtool', ['check', 'rules', 'slo.yml'], cwd)).toMatch(/SUCCESS: 12 rules found/);
    expect(run('promtool', ['test', 'rules', 'slo.test.yml'], cwd)).toMatch(/SUCCESS/);
  });
});

describe('Alertmanager (deploy/alertmanager/alertmanager.yml)', () => {
  // The file must pass amtool and route as the structural test in deploy-files.test.ts says.
  it('passes amtool check-config and routes alerts to the receivers the rules name', () => {
    const file = path.join(projectRoot, 'deploy', 'alertmanager', 'alertmanager.yml');
    expect(run('amtool', ['check-config', file])).toMatch(/SUCCESS/);
    const route = (label: string) => run('amtool', ['config', 'routes', 'test', `--config.file=${file}`, label]).trim();
    expect(route('severity=page')).toBe('oncall-pager,team-chat');
    expect(route('severity=warn')).toBe('team-chat');
    expect(route('severity=unknown')).toBe('team-chat');
  });
});
