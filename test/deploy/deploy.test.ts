import { readFile, readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { envSchema } from '../../src/config/env-schema.ts';
import { daemonMetricsQueries } from '../../src/db/queries/daemon-metrics.ts';
import { createMetrics } from '../../src/http/metrics.ts';
import type { HttpServer } from '../../src/http/server.ts';
import { createTestDatabase, type TestDatabase } from '../harness/db.ts';
import { silentLogger } from '../daemon/helpers.ts';
import { startMinimalServer } from '../http/minimal-server.ts';
import { parsePrometheusText } from '../http/prom-text.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const K8S = `${ROOT}deploy/kubernetes/`;
const PROM = `${ROOT}deploy/prometheus/`;

type Doc = Record<string, any>;

async function manifests(): Promise<{ file: string; doc: Doc }[]> {
  const out: { file: string; doc: Doc }[] = [];
  for (const file of (await readdir(K8S)).filter((f) => f.endsWith('.yaml')).sort()) {
    for (const d of parseAllDocuments(await readFile(K8S + file, 'utf8'))) {
      expect(d.errors, `${file} parses`).toEqual([]);
      out.push({ file, doc: d.toJS() as Doc });
    }
  }
  return out;
}

/** Every intercom_sync_* name in a PromQL expression. */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\bintercom_sync_[a-z0-9_]+/g)].map((m) => m[0]);
}

describe('Prometheus dashboard and alerts', () => {
  let tdb: TestDatabase;
  let server: HttpServer;
  let exported: Map<string, string>;

  beforeAll(async () => {
    tdb = await createTestDatabase();
    const q = daemonMetricsQueries('intercom');
    const metrics = createMetrics(
      {
        readDb: async () => ({ outbox: await q.outbox(tdb.pool), pullLag: await q.pullLag(tdb.pool), mappings: await q.mappings(tdb.pool) }),
        limiterState: () => ({ queued: 0, running: 0, reservoir: 83, pausedUntil: null }),
        role: () => 'leader',
        authHalted: () => false,
      },
      silentLogger,
    );
    let url: string;
    ({ server, url } = await startMinimalServer(metrics));
    const text = await (await fetch(`${url}/metrics`)).text();
    exported = parsePrometheusText(text).types;
  });
  afterAll(async () => {
    await server.close();
    await tdb.drop();
  });

  /** A name is exported if /metrics declares it, or it is a histogram's _bucket/_sum/_count series. */
  function isExported(name: string): boolean {
    if (exported.has(name)) return true;
    const base = name.replace(/_(bucket|sum|count)$/, '');
    return base !== name && exported.get(base) === 'histogram';
  }

  it('the Grafana dashboard uses only metrics /metrics exports', async () => {
    const dash = JSON.parse(await readFile(`${PROM}grafana-dashboard.json`, 'utf8')) as { panels: { title: string; targets: { expr: string }[] }[] };
    const names = dash.panels.flatMap((p) => p.targets.flatMap((t) => metricNames(t.expr)));
    expect(names.length).toBeGreaterThan(20);
    expect(names.filter((n) => !isExported(n))).toEqual([]);
  });

  it('the alert rules cover a stuck outbox, dead letters, 429s, pull lag, a halt and no leader, from exported metrics', async () => {
    const doc = parseAllDocuments(await readFile(`${PROM}alerts.yaml`, 'utf8'));
    expect(doc.flatMap((d) => d.errors)).toEqual([]);
    const rules = (doc[0]!.toJS() as { groups: { rules: { alert: string; expr: string; for: string }[] }[] }).groups.flatMap((g) => g.rules);
    const byName = new Map(rules.map((r) => [r.alert, r]));
    const wanted: Record<string, string> = {
      IntercomSyncOutboxStuck: 'intercom_sync_outbox_oldest_pending_age_seconds',
      IntercomSyncDeadLetters: 'intercom_sync_outbox_dead_letters',
      IntercomSyncRateLimited: 'intercom_sync_intercom_rate_limited_total',
      IntercomSyncPullLagging: 'intercom_sync_pull_lag_seconds',
      IntercomSyncAuthorizationHalted: 'intercom_sync_intercom_authorization_halted',
      IntercomSyncLeaderMissing: 'intercom_sync_leader',
    };
    for (const [alert, metric] of Object.entries(wanted)) expect(byName.get(alert)?.expr).toContain(metric);
    const names = rules.flatMap((r) => metricNames(r.expr));
    expect(names.filter((n) => !isExported(n))).toEqual([]);
  });
});

describe('Kubernetes manifests', () => {
  it('parse, and set only documented environment variables', async () => {
    const docs = await manifests();
    const readme = await readFile(`${ROOT}README.md`, 'utf8');
    // The configuration table: rows starting with | `NAME` (two names may share a row: `A` / `B`).
    const documented = new Set(
      readme
        .split('\n')
        .filter((l) => l.startsWith('| `'))
        .flatMap((l) => [...(l.split('|')[1] ?? '').matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]!)),
    );
    const schema = new Set(Object.keys(envSchema.shape));
    const used = new Set<string>();
    for (const { doc } of docs) {
      if (doc.kind === 'ConfigMap' || doc.kind === 'Secret') for (const k of Object.keys(doc.data ?? doc.stringData ?? {})) used.add(k);
      const containers: Doc[] = doc.spec?.template?.spec?.containers ?? [];
      for (const c of containers) for (const e of c.env ?? []) used.add(e.name as string);
    }
    expect(used.size).toBeGreaterThan(8);
    expect([...used].filter((n) => !schema.has(n))).toEqual([]);
    expect([...used].filter((n) => !documented.has(n))).toEqual([]);
  });

  it('run two replicas on the leader lock with probes, resources, a grace period above SHUTDOWN_TIMEOUT_SECONDS, a PDB and a migrate Job', async () => {
    const docs = (await manifests()).map((m) => m.doc);
    const kind = (k: string) => docs.filter((d) => d.kind === k);
    const [deployment] = kind('Deployment');
    const [config] = kind('ConfigMap');
    const [secret] = kind('Secret');
    expect(deployment?.spec.replicas).toBe(2);
    const pod = deployment!.spec.template.spec;
    const [c] = pod.containers as Doc[];
    expect(c!.args).toEqual(['run']);
    expect(c!.readinessProbe.httpGet.path).toBe('/readyz');
    expect(c!.livenessProbe.httpGet.path).toBe('/healthz');
    expect(c!.resources.requests.cpu).toBeDefined();
    expect(c!.resources.limits.memory).toBeDefined();
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(Number(config!.data.SHUTDOWN_TIMEOUT_SECONDS));
    // Tokens come from the Secret the container loads, never from the ConfigMap.
    expect(c!.envFrom).toContainEqual({ secretRef: { name: secret!.metadata.name } });
    expect(Object.keys(secret!.stringData)).toEqual(expect.arrayContaining(['INTERCOM_ACCESS_TOKEN', 'STATUS_PAGE_TOKEN', 'DATABASE_URL']));
    expect(Object.keys(config!.data).filter((k) => /TOKEN|SECRET|DATABASE_URL/.test(k))).toEqual([]);
    const [pdb] = kind('PodDisruptionBudget');
    expect(pdb?.spec.minAvailable).toBe(1);
    expect(pdb?.spec.selector.matchLabels).toEqual(deployment!.spec.selector.matchLabels);
    const [job] = kind('Job');
    expect(job?.spec.template.spec.containers[0].args).toEqual(['migrate']);
    const [service] = kind('Service');
    expect(service?.spec.selector).toEqual(deployment!.spec.selector.matchLabels);
    // kustomization.yaml lists every other manifest.
    const [kustomization] = kind('Kustomization');
    const files = (await readdir(K8S)).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    expect([...(kustomization!.resources as string[])].sort()).toEqual(files.sort());
  });
});
