import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { configSchema } from '../../src/config/config-schema.js';
import { parseDurationMs } from '../../src/config/duration.js';
import { ENV_VARS, loadConfig } from '../../src/config/load-config.js';
import { dynamicConfigYaml, projectRoot } from '../../src/temporal/temporal-cli.js';
import { ErrorKind } from '../../src/model/constants.js';
import { clusterEnv } from '../cluster/support/fetchbox-process.js';

// No Docker engine runs on these machines, so the deployment files are checked statically:
// structure, images, and consistency with the configuration schema and the metrics.
const read = (file: string) => readFileSync(path.join(projectRoot, file), 'utf8');
const compose = parseYaml(read('docker-compose.yml'), { merge: true }) as {
  services: Record<string, any>;
  volumes: Record<string, unknown>;
};
const prometheus = parseYaml(read('deploy/prometheus/prometheus.yml')) as any;
type RuleFile = {
  groups: {
    rules: { alert?: string; record?: string; expr: string; labels?: Record<string, string>; annotations: Record<string, string> }[];
  }[];
};
const alerts = parseYaml(read('deploy/prometheus/alerts.yml')) as RuleFile;
const sloRules = parseYaml(read('deploy/prometheus/slo.yml')) as RuleFile;
const alertmanager = parseYaml(read('deploy/alertmanager/alertmanager.yml')) as any;
const sloDoc = read('docs/slo.md');
const dashboard = JSON.parse(read('deploy/grafana/fetchbox.json')) as {
  uid: string;
  title: string;
  panels: { title: string; targets: { expr: string }[] }[];
};
const observability = read('docs/observability.md');
const runbook = read('docs/runbook.md');
const configurationDoc = read('docs/configuration.md');
const defaults = configSchema.parse({});

/** Known variables: the schema's, plus per-name families, plus what the SDKs read. */
function isKnownVariable(name: string): boolean {
  return (
    name in ENV_VARS ||
    /^FETCHBOX_PROXY_[A-Z0-9_]+_URL$/.test(name) ||
    /^FETCHBOX_HANDLER_[A-Z0-9_]+$/.test(name) ||
    ['FETCHBOX_CONFIG', 'FETCHBOX_WORKFLOW_BUNDLE', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_REGION', 'NODE_ENV'].includes(name)
  );
}

/** Metric names a PromQL expression uses (FetchBox's and Temporal's). */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\b((?:fetchbox|temporal)_[a-z_]+)\b/g)].map((m) => m[1]!.replace(/_(bucket|sum|count)$/, ''));
}

/** `45s`, `1m30s`, `2m` → seconds (Compose durations). */
function durationSeconds(value: string): number {
  const m = /^(?:(\d+)m)?(?:(\d+)s)?$/.exec(value);
  if (!m || value === '') throw new Error(`not a compose duration: ${value}`);
  return Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0);
}

/** KEY=value lines of an env file; `withComments` also reads commented-out `#KEY=value` examples. */
function envFile(text: string, withComments = false): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = (withComments ? /^#?([A-Z][A-Z0-9_]*)=(.*)$/ : /^([A-Z][A-Z0-9_]*)=(.*)$/).exec(line);
    if (m) env[m[1]!] = m[2]!;
  }
  return env;
}

describe('docker-compose.yml', () => {
  const s = compose.services;

  it('has every service FetchBox needs, with pinned images', () => {
    expect(Object.keys(s).sort()).toEqual([
      'alertmanager',
      'api',
      'grafana',
      'minio',
      'minio-setup',
      'postgresql',
      'prometheus',
      'temporal',
      'temporal-ui',
      'worker',
    ]);
    for (const [name, svc] of Object.entries(s)) {
      expect(svc.image ?? svc.build, name).toBeDefined();
      if (svc.image) expect(svc.image, name).toMatch(/:[\w.-]+$/);
      if (svc.image) expect(svc.image, name).not.toMatch(/:latest$/);
    }
    expect(s.temporal.environment.DB).toBe('postgres12');
    expect(s.temporal.environment.POSTGRES_SEEDS).toBe('postgresql');
    expect(s['temporal-ui'].environment.TEMPORAL_ADDRESS).toBe('temporal:7233');
    expect(s['minio-setup'].entrypoint.join(' ')).toContain('mc mb --ignore-existing local/fetchbox');
  });

  it('runs the API and a scalable worker from the same image with valid settings', () => {
    expect(s.api.command).toEqual(['api']);
    expect(s.worker.command).toEqual(['worker']);
    expect(s.worker.image).toBe(s.api.image);
    expect(s.worker.container_name).toBeUndefined();
    expect(s.worker.ports).toBeUndefined(); // host ports would collide between replicas
    for (const svc of [s.api, s.worker]) {
      for (const [name, value] of Object.entries(svc.environment as Record<string, string>)) {
        expect(isKnownVariable(name), `${name} is not a FetchBox setting`).toBe(true);
        expect(typeof value).toBe('string');
      }
      expect(svc.environment.TEMPORAL_ADDRESS).toBe('temporal:7233');
      const bucket = /^s3:\/\/([^/]+)/.exec(svc.environment.FETCHBOX_STORAGE_URL)![1];
      expect(s['minio-setup'].entrypoint.join(' ')).toContain(`local/${bucket}`);
      expect(svc.environment.AWS_SECRET_ACCESS_KEY).toBe(s.minio.environment.MINIO_ROOT_PASSWORD);
    }
    // Binding 0.0.0.0 needs tokens: compose refuses to start without them.
    expect(s.api.environment.FETCHBOX_API_HOST).toBe('0.0.0.0');
    expect(s.api.environment.FETCHBOX_API_TOKENS).toMatch(/^\$\{FETCHBOX_API_TOKENS:\?/);
    expect(s.api.ports).toContain(`3000-3001:${s.api.environment.FETCHBOX_API_PORT}`); // a host port per replica (--scale api=2)
    expect(s.worker.expose).toContain(s.worker.environment.FETCHBOX_WORKER_METRICS_PORT);
  });

  it("rotates the FetchBox containers' logs and gives them the open files docs/host.md asks for", () => {
    for (const svc of [s.api, s.worker]) {
      expect(svc.logging).toEqual({ driver: 'json-file', options: { 'max-size': '50m', 'max-file': '5' } });
      expect(svc.ulimits.nofile.soft).toBeGreaterThanOrEqual(65536);
    }
    expect(read('docs/host.md')).toContain('max-size: 50m, max-file: "5"');
  });

  it('builds one image for API and workers; workers only use it', () => {
    expect(s.api.build).toBe('.');
    expect(s.worker.build).toBeUndefined(); // `up -d --no-deps worker` recreates, never rebuilds
    expect(s.worker.pull_policy).toBe('never');
    expect(s.api.container_name).toBeUndefined();
  });

  it('gives a draining worker its grace plus the 10 s force time before SIGKILL', () => {
    const graceMs = Number(s.worker.environment.FETCHBOX_WORKER_SHUTDOWN_GRACE_MS);
    expect(graceMs).toBe(configSchema.parse({ worker: { shutdownGraceMs: graceMs } }).worker.shutdownGraceMs);
    expect(s.worker.stop_signal).toBe('SIGTERM');
    expect(durationSeconds(s.worker.stop_grace_period)).toBeGreaterThanOrEqual(graceMs / 1000 + 10);
    expect(read('Dockerfile')).toMatch(/^STOPSIGNAL SIGTERM$/m);
  });

  it('passes proxy credentials and secrets to API and workers from one git-ignored env file', () => {
    expect(s.api.env_file).toEqual(s.worker.env_file);
    expect(s.worker.env_file).toEqual([{ path: 'deploy/secrets/fetchbox.env', required: false }]);
    expect(read('deploy/secrets/.gitignore').split('\n')).toContain('*');
    const example = read('deploy/fetchbox.env.example');
    expect(example).toContain('cp deploy/fetchbox.env.example deploy/secrets/fetchbox.env');
    // The example, as shipped and with every commented line turned on, is a configuration that loads.
    for (const env of [envFile(example), envFile(example, true)]) {
      for (const name of Object.keys(env)) expect(isKnownVariable(name) || /^TEMPORAL_API_KEY$/.test(name), name).toBe(true);
      expect(() => loadConfig(env)).not.toThrow();
    }
    expect(envFile(example, true)).toMatchObject({
      FETCHBOX_PROXY_TIERS: 'direct,residential',
      FETCHBOX_PROXY_RESIDENTIAL_URL: expect.stringMatching(/^http:/),
    });
  });

  it('names only variables docs/configuration.md documents, comments included', () => {
    const text = read('docker-compose.yml');
    const named = new Set([...text.matchAll(/\b((?:FETCHBOX|TEMPORAL)_[A-Z0-9_<>]*[A-Z0-9>])(?![\w<>])/g)].map((m) => m[1]!));
    expect(named.size).toBeGreaterThan(15);
    for (const name of named) {
      const family = name.replace(/^FETCHBOX_PROXY_[A-Z0-9]+_URL$/, 'FETCHBOX_PROXY_<NAME>_URL');
      expect(configurationDoc, name).toContain(name.startsWith('TEMPORAL_TLS_') ? name : `\`${family}\``);
    }
  });

  it('gives the Temporal server the dynamic config priority and fairness need (temporal-cli.ts)', () => {
    expect(s.temporal.environment.DYNAMIC_CONFIG_FILE_PATH).toBe('config/dynamicconfig/dynamicconfig.yaml');
    expect(s.temporal.volumes).toContain('./deploy/temporal:/etc/temporal/config/dynamicconfig:ro');
    expect(parseYaml(read('deploy/temporal/dynamicconfig.yaml'))).toEqual(parseYaml(dynamicConfigYaml()));
  });

  it('runs the Temporal server the cluster suite runs: same version, PostgreSQL with SQL visibility, same retention', () => {
    const serverVersion = /^SERVER_VERSION="v([\d.]+)"/m.exec(read('scripts/cluster/install.sh'))?.[1];
    expect(serverVersion).toMatch(/^1\.\d+\.\d+$/);
    expect(s.temporal.image).toBe(`temporalio/auto-setup:${serverVersion}`);
    expect(s.temporal.environment).toMatchObject({
      DB: 'postgres12',
      DBNAME: 'temporal',
      VISIBILITY_DBNAME: 'temporal_visibility',
      NUM_HISTORY_SHARDS: '4',
    });
    const retention = /'--retention', '(\w+)'/.exec(read('test/cluster/support/temporal-server.ts'))?.[1];
    expect(s.temporal.environment.DEFAULT_NAMESPACE_RETENTION).toBe(retention);
    // Workers compare the namespace with temporal.retention: the shipped default matches it.
    expect(parseDurationMs(s.temporal.environment.DEFAULT_NAMESPACE_RETENTION)).toBe(defaults.temporal.retention);
    const pgMajor = /^postgres:(\d+)-/.exec(s.postgresql.image)?.[1];
    expect(Number(pgMajor)).toBeGreaterThanOrEqual(12);
  });

  it('sets what the cluster suite gives its fetchbox processes (TLS as documented comments)', () => {
    const fake = {
      temporalAddress: 't:7233',
      namespace: 'default',
      certs: { caCert: 'ca', clientCert: 'c', clientKey: 'k', serverName: 'n' },
      minio: { endpoint: 'http://m', accessKeyId: 'a', secretAccessKey: 's', bucket: 'b', region: 'r' },
      workflowBundlePath: 'w',
    };
    const suiteVars = Object.keys(clusterEnv(fake as unknown as Parameters<typeof clusterEnv>[0], 'q')).filter((k) =>
      /^(TEMPORAL|FETCHBOX|AWS)_/.test(k),
    );
    expect(suiteVars.length).toBeGreaterThan(10);
    const text = read('docker-compose.yml');
    const dockerfile = read('Dockerfile');
    // Test-only: no temporal.toml on the runner, loopback origins allowed, metrics off (ports of 5 processes).
    const testOnly = ['TEMPORAL_CONFIG_FILE', 'FETCHBOX_FETCH_ALLOW_CIDRS', 'FETCHBOX_WORKER_METRICS_PORT'];
    for (const name of suiteVars) {
      if (testOnly.includes(name)) continue;
      const set = name in s.worker.environment || new RegExp(`^  # ${name}: `, 'm').test(text) || dockerfile.includes(`${name}=`);
      expect(set, `${name} (set by the cluster suite) missing from docker-compose.yml`).toBe(true);
    }
  });

  it('lets Prometheus scrape the API and every worker replica on the configured ports, with the rules', () => {
    expect(prometheus.rule_files).toContain('alerts.yml');
    const jobs = Object.fromEntries((prometheus.scrape_configs as any[]).map((j) => [j.job_name, j]));
    expect(jobs['fetchbox-api'].dns_sd_configs[0]).toMatchObject({ names: ['api'], port: defaults.api.port });
    expect(jobs['fetchbox-worker'].dns_sd_configs[0]).toMatchObject({ names: ['worker'], port: defaults.worker.metricsPort });
    expect(compose.services.prometheus.volumes).toContain('./deploy/prometheus:/etc/prometheus:ro');
  });

  it('provisions Grafana with the dashboard and the Prometheus data source', () => {
    for (const mount of compose.services.grafana.volumes as string[]) {
      expect(existsSync(path.join(projectRoot, mount.split(':')[0]!)), mount).toBe(true);
    }
    const ds = parseYaml(read('deploy/grafana/provisioning/datasources/prometheus.yml')) as any;
    expect(ds.datasources[0]).toMatchObject({ type: 'prometheus', url: 'http://prometheus:9090' });
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  it('is multi-stage, ships the prebuilt workflow bundle and runs as a non-root user', () => {
    expect(dockerfile.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/npm run bundle:workflows/);
    expect(dockerfile).toMatch(/FETCHBOX_WORKFLOW_BUNDLE=\/app\/dist\/workflow-bundle\.js/);
    expect(dockerfile).toMatch(/--omit=dev/);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/ENTRYPOINT \["node", "bin\/fetchbox\.js"\]/);
  });

  it("lets handler modules mounted anywhere import 'fetchbox' (docs/deployment.md#your-handlers-in-the-image)", () => {
    expect(dockerfile).toMatch(/ln -s \/app \/node_modules\/fetchbox/);
  });
});

describe('alert rules and dashboard', () => {
  const rules = alerts.groups.flatMap((g) => g.rules) as { alert: string; expr: string; annotations: Record<string, string> }[];

  it('count as download failures only the error kinds, over the attempts that asked an origin', () => {
    const rule = rules.find((r) => r.alert === 'FetchBoxDownloadFailureRateHigh')!;
    const [failures, requests, ...rest] = [...rule.expr.matchAll(/outcome!~"([a-z_|]+)"/g)].map((m) => new Set(m[1]!.split('|')));
    expect(rest).toEqual([]);
    // The outcomes the worker records by name (src/activities); every other outcome is an error kind.
    const dir = path.join(projectRoot, 'src', 'activities');
    const named = new Set(
      readdirSync(dir)
        .filter((file) => file.endsWith('.ts'))
        .flatMap((file) => [...read(`src/activities/${file}`).matchAll(/attempts\.inc\(\{ outcome: '([a-z_]+)'/g)].map((m) => m[1]!)),
    );
    expect(named).toEqual(new Set(['succeeded', 'not_modified', 'skipped', 'resumed']));
    for (const kind of Object.values(ErrorKind)) expect(named.has(kind), kind).toBe(false);
    expect(failures).toEqual(named);
    // skipped and resumed send no request: they neither fail nor dilute the ratio.
    expect(requests).toEqual(new Set(['skipped', 'resumed']));
    // The dashboard plots the same ratio (the runbook's diagnosis points at it).
    const panel = dashboard.panels.find((p) => p.title.startsWith('Download failure ratio'))!;
    expect(`${panel.targets[0]!.expr} > 0.5`).toBe(rule.expr.replace(/\s+/g, ' ').trim());
  });

  it('give every alert a runbook entry with Meaning, Impact, Diagnosis, Mitigation and Escalation', () => {
    for (const rule of rules) {
      const anchor = rule.alert.toLowerCase();
      expect(rule.annotations.runbook_url).toBe(`docs/runbook.md#${anchor}`);
      const start = runbook.indexOf(`\n### ${rule.alert}\n`);
      expect(start, `no runbook entry for ${rule.alert}`).toBeGreaterThan(-1);
      const entry = runbook.slice(start, runbook.indexOf('\n### ', start + 1) === -1 ? undefined : runbook.indexOf('\n### ', start + 1));
      for (const part of ['Meaning', 'Impact', 'Diagnosis', 'Mitigation', 'Escalation'])
        expect(entry, `${rule.alert}: ${part}`).toContain(`**${part}**`);
    }
  });

  it('use only metrics that docs/observability.md documents', () => {
    const exprs = [...rules.map((r) => r.expr), ...dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr))];
    for (const name of new Set(exprs.flatMap(metricNames))) expect(observability, name).toContain(`\`${name}\``);
    expect(dashboard).toMatchObject({ uid: 'fetchbox', title: 'FetchBox' });
    expect(dashboard.panels.length).toBeGreaterThanOrEqual(12);
  });
});

/** Alert names a promtool test file expects to fire (a non-empty exp_alerts). */
function testedAlerts(file: string): Set<string> {
  const tests = (parseYaml(read(file)) as { tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[] }).tests;
  return new Set(
    tests
      .flatMap((t) => t.alert_rule_test ?? [])
      .filter((a) => a.exp_alerts.length > 0)
      .map((a) => a.alertname),
  );
}

describe('SLO rules (deploy/prometheus/slo.yml)', () => {
  const all = sloRules.groups.flatMap((g) => g.rules);
  const sloAlerts = all.filter((r) => r.alert);

  // promtool's checks of these files: test/infra/deploy-tools.test.ts.
  it('Prometheus loads them', () => {
    expect(prometheus.rule_files).toEqual(['alerts.yml', 'slo.yml']);
  });

  it('burn each of the three objectives: submit availability (multi-window), time to complete, data loss', () => {
    expect(new Set(sloAlerts.map((r) => r.labels!.slo))).toEqual(new Set(['submit-availability', 'time-to-complete', 'data-loss']));
    // Multi-window burn rate: every availability alert pairs a long window with a short one.
    for (const rule of sloAlerts.filter((r) => r.labels!.slo === 'submit-availability')) {
      const windows = [...rule.expr.matchAll(/ratio_rate(\d+[mhd])/g)].map((m) => m[1]);
      expect(windows.length, rule.alert).toBeGreaterThanOrEqual(2);
      expect(windows.length % 2, rule.alert).toBe(0);
    }
    const fast = sloAlerts.find((r) => r.alert === 'FetchBoxSubmitBudgetBurnFast')!;
    expect(fast.expr).toContain('ratio_rate1h > 14.4 * 0.001 and fetchbox:submit_errors:ratio_rate5m > 14.4 * 0.001');
    expect(fast.labels!.severity).toBe('page');
    // Every recording rule an alert reads exists.
    const recorded = new Set(all.filter((r) => r.record).map((r) => r.record));
    for (const rule of sloAlerts)
      for (const [name] of rule.expr.matchAll(/fetchbox:[a-z_:0-9]+/g)) expect(recorded.has(name), name).toBe(true);
    // And every one the dashboard's SLO panels plot.
    const plotted = dashboard.panels.flatMap((p) =>
      p.targets.flatMap((t) => [...t.expr.matchAll(/fetchbox:[a-z_:0-9]+/g)].map((m) => m[0])),
    );
    expect(plotted.length).toBeGreaterThanOrEqual(5);
    for (const name of plotted) expect(recorded.has(name), name).toBe(true);
  });

  it('every alert of alerts.yml and slo.yml is made to fire by a promtool test', () => {
    const tested = new Set([...testedAlerts('deploy/prometheus/alerts.test.yml'), ...testedAlerts('deploy/prometheus/slo.test.yml')]);
    const every = [...alerts.groups, ...sloRules.groups]
      .flatMap((g) => g.rules)
      .filter((r) => r.alert)
      .map((r) => r.alert!);
    expect(every.length).toBe(15);
    for (const name of every) expect(tested.has(name), `${name} has no promtool test that fires it`).toBe(true);
  });

  it('give every SLO alert an entry in docs/slo.md with Meaning, Impact, Diagnosis, Mitigation and Escalation', () => {
    for (const rule of sloAlerts) {
      expect(rule.annotations.runbook_url).toBe(`docs/slo.md#${rule.alert!.toLowerCase()}`);
      const start = sloDoc.indexOf(`\n### ${rule.alert}\n`);
      expect(start, `no docs/slo.md entry for ${rule.alert}`).toBeGreaterThan(-1);
      const next = sloDoc.indexOf('\n#', start + 1);
      const entry = sloDoc.slice(start, next === -1 ? undefined : next);
      for (const part of ['Meaning', 'Impact', 'Diagnosis', 'Mitigation', 'Escalation'])
        expect(entry, `${rule.alert}: ${part}`).toContain(`**${part}**`);
    }
  });

  it('use only metrics that docs/observability.md documents', () => {
    for (const name of new Set(all.flatMap((r) => metricNames(r.expr)))) expect(observability, name).toContain(`\`${name}\``);
  });
});

describe('Alertmanager (deploy/alertmanager/alertmanager.yml)', () => {
  const severities = new Set(
    [...alerts.groups, ...sloRules.groups]
      .flatMap((g) => g.rules)
      .filter((r) => r.alert)
      .map((r) => r.labels!.severity!),
  );
  const routes = alertmanager.route.routes as { matchers: string[]; receiver: string; continue?: boolean }[];
  const receiver = (name: string) =>
    (alertmanager.receivers as { name: string; pagerduty_configs?: unknown[]; webhook_configs?: unknown[] }[]).find((r) => r.name === name);

  it('routes every severity the rules use: page to the on-call pager and the chat, warn to the chat', () => {
    expect(severities).toEqual(new Set(['page', 'warn']));
    const routed = (severity: string) => {
      const out: string[] = [];
      for (const route of routes) {
        if (!route.matchers.includes(`severity="${severity}"`)) continue;
        out.push(route.receiver);
        if (!route.continue) break;
      }
      return out.length > 0 ? out : [alertmanager.route.receiver as string];
    };
    expect(routed('page')).toEqual(['oncall-pager', 'team-chat']);
    expect(routed('warn')).toEqual(['team-chat']);
    expect(receiver('oncall-pager')!.pagerduty_configs).toHaveLength(1);
    expect(receiver('team-chat')!.webhook_configs).toHaveLength(1);
    expect(alertmanager.route.group_by).toEqual(['alertname', 'slo']);
    // Secrets only by file, from the git-ignored secrets directory.
    expect(read('deploy/alertmanager/alertmanager.yml')).not.toMatch(/routing_key:|service_key:/);
    expect((receiver('oncall-pager')!.pagerduty_configs![0] as { routing_key_file: string }).routing_key_file).toMatch(
      /^\/etc\/alertmanager\/secrets\//,
    );
  });

  it('inhibits only alerts that exist', () => {
    const names = new Set([...alerts.groups, ...sloRules.groups].flatMap((g) => g.rules).map((r) => r.alert));
    for (const rule of alertmanager.inhibit_rules as { source_matchers: string[]; target_matchers: string[] }[]) {
      for (const matcher of [...rule.source_matchers, ...rule.target_matchers]) {
        const m = /^alertname(=~?)"(.*)"$/.exec(matcher)!;
        for (const name of m[1] === '=~' ? m[2]!.split('|') : [m[2]!]) expect(names.has(name), name).toBe(true);
      }
    }
  });

  it('runs in Compose with this file, and Prometheus sends it the alerts', () => {
    const am = compose.services.alertmanager;
    expect(am.image).toMatch(/^prom\/alertmanager:v\d+\.\d+\.\d+$/);
    expect(am.volumes).toContain('./deploy/alertmanager/alertmanager.yml:/etc/alertmanager/alertmanager.yml:ro');
    expect(am.volumes).toContain('./deploy/secrets/alertmanager:/etc/alertmanager/secrets:ro');
    expect(am.ports).toContain('9093:9093');
    expect(prometheus.alerting.alertmanagers[0].static_configs[0].targets).toEqual(['alertmanager:9093']);
  });
  // amtool's check of the file, routing as above: test/infra/deploy-tools.test.ts.
});

describe('docs/observability.md', () => {
  it('documents every metric the code defines', () => {
    // Every file that may define a metric: the metrics classes (src/observability) and the workflows (workflow metrics go through Temporal's meter).
    const files = ['src/observability', 'src/workflows'].flatMap((dir) =>
      readdirSync(path.join(projectRoot, dir))
        .filter((f) => f.endsWith('.ts'))
        .map((f) => `${dir}/${f}`),
    );
    const sources = files.map(read).join('\n');
    // A counter made through Temporal's meter (createCounter) is exposed with `_total`.
    const defined = [...sources.matchAll(/(name: |createCounter\(\s*)'(fetchbox_[a-z_]+)'/g)].map((m) =>
      m[1] === 'name: ' ? m[2]! : `${m[2]!}_total`,
    );
    expect(defined.length).toBeGreaterThanOrEqual(12);
    for (const exposed of defined) {
      expect(observability, exposed).toContain(`\`${exposed}\``);
    }
  });
});
