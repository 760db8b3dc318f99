import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { IntercomApiError, IntercomAuthError, IntercomPermissionError } from '../../src/errors.ts';
import type { AccessChange } from '../../src/intercom/gateway.ts';
import { harness, type Harness } from './helpers.ts';

// Authorization is scoped, a revoked-then-restored token recovers by itself, and a load balancer's HTML 403 is a
// transient failure: the gateway against the simulator's realistic profile (docs/guarantees.md, "Availability").
let h: Harness;

beforeAll(async () => {
  h = await harness({ profile: 'realistic', latency: null, html403Probability: 0, seedContacts: 3 });
});
afterAll(async () => {
  await h.close();
});
beforeEach(() => {
  h.sim.state.applySettings({ scopeDenied: [], html403Probability: 0 });
  h.sim.tokens.add(h.sim.token);
});

// The gateways' back-off clocks (t0 + offset) stand still between the test's steps: how long a busy machine takes
// between two steps never moves a deadline.
const until = async (cond: () => Promise<boolean>, timeoutMs = 30_000) => {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('condition not met in time');
};

describe('scoped authorization', () => {
  it('a permission refused on one endpoint disables that endpoint only, names it, and is re-probed', async () => {
    const changes: AccessChange[] = [];
    const t0 = Date.now();
    let offsetMs = 0;
    const gw = h.gateway({
      authProbeBaseMs: 60_000,
      now: () => t0 + offsetMs,
      onAccessChange: (c) => changes.push(c),
    });
    const [someone] = (await gw.listContacts({ perPage: 1 })).data;
    h.sim.state.applySettings({ scopeDenied: [{ method: 'POST', path: '/contacts/search', status: 403 }] });

    const err = await gw.searchContacts({ query: { field: 'role', operator: '=', value: 'user' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IntercomPermissionError);
    expect(err).toMatchObject({ status: 403, code: 'token_unauthorized', endpoint: 'POST /contacts/search' });
    expect((err as IntercomPermissionError).permission).toBe('Read and list users and companies');

    // Everything else keeps working.
    expect((await gw.getContact(someone!.id)).id).toBe(someone!.id);
    expect(gw.health().authError).toBeNull();
    expect(gw.health().availability.denied.map((d) => d.endpoint)).toEqual(['POST /contacts/search']);
    expect(changes.some((c) => c.kind === 'denied' && c.denial.endpoint === 'POST /contacts/search')).toBe(true);

    // Until the next probe the endpoint is refused without a request, with an error naming it.
    const before = h.records.length;
    const fast = await gw.searchContacts({ query: { field: 'role', operator: '=', value: 'user' } }).catch((e: unknown) => e);
    expect(fast).toBeInstanceOf(IntercomPermissionError);
    expect((fast as Error).message).toMatch(/POST \/contacts\/search not sent/);
    expect(h.records.length).toBe(before);

    // The permission is granted: after the back-off one call goes through and the endpoint is enabled again.
    h.sim.state.applySettings({ scopeDenied: [] });
    offsetMs = 61_000;
    await gw.searchContacts({ query: { field: 'role', operator: '=', value: 'user' } });
    expect(gw.health().availability.denied).toEqual([]);
    expect(changes.at(-1)).toEqual({ kind: 'cleared', endpoint: 'POST /contacts/search' });
  });

  it('a token_unauthorized 401 is scoped too', async () => {
    const gw = h.gateway({ authProbeBaseMs: 60_000 });
    h.sim.state.applySettings({ scopeDenied: [{ method: 'POST', path: '/contacts', status: 401 }] });
    const err = await gw.createContact({ role: 'lead', email: 'scoped-401@example.com' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IntercomPermissionError);
    expect(err).toMatchObject({ status: 401, endpoint: 'POST /contacts' });
    expect(gw.health().authError).toBeNull();
    expect((await gw.listContacts({ perPage: 1 })).data.length).toBe(1);
  });
});

describe('token refused everywhere', () => {
  it('halts every call, names the request that was not sent, and recovers once the token works again', async () => {
    const t0 = Date.now();
    let offsetMs = 0;
    const gw = h.gateway({ authProbeBaseMs: 60_000, authProbeCapMs: 120_000, now: () => t0 + offsetMs });
    const [someone] = (await gw.listContacts({ perPage: 1 })).data;
    h.sim.tokens.delete(h.sim.token);

    const err = await gw.getContact(someone!.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IntercomAuthError);
    expect(err).toMatchObject({ status: 401, code: 'unauthorized' });
    expect(gw.health().authError).not.toBeNull();
    expect(gw.health().availability.halted?.endpoint).toBe('*');

    // Another call is refused without a request, and its error names that call, not the one that met the 401.
    const before = h.records.length;
    const other = await gw.scrollCompanies(null).catch((e: unknown) => e);
    expect(other).toBeInstanceOf(IntercomAuthError);
    expect((other as IntercomAuthError).endpoint).toBe('GET /companies/scroll');
    expect((other as Error).message).toMatch(/^Intercom GET \/companies\/scroll not sent/);
    expect(h.records.length).toBe(before);

    // While the token stays revoked, only GET /me probes it, on the back-off.
    offsetMs = 61_000;
    await gw.getContact(someone!.id).catch(() => undefined);
    await gw.getContact(someone!.id).catch(() => undefined);
    const probes = h.records.slice(before);
    expect(probes.length).toBeGreaterThan(0);
    expect(probes.every((r) => r.endpoint === 'GET /me' && r.status === 401)).toBe(true);

    expect(probes.length).toBe(1);
    h.sim.tokens.add(h.sim.token);
    // The second refusal doubled the wait (2 min): still refused a minute later, accepted after it.
    offsetMs = 61_000 + 61_000;
    await expect(gw.getContact(someone!.id)).rejects.toBeInstanceOf(IntercomAuthError);
    offsetMs = 61_000 + 121_000;
    expect((await gw.getContact(someone!.id)).id).toBe(someone!.id);
    expect(gw.health().authError).toBeNull();
    expect(gw.health().availability.halted).toBeNull();
  });
});

describe('HTML 403 from a load balancer', () => {
  it('is transient: retried, never a halt, and counted as Intercom being unreachable', async () => {
    const gw = h.gateway({ maxRetries: 0 });
    h.sim.state.applySettings({ html403Probability: 1 });
    const err = await gw.listContacts({ perPage: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IntercomApiError);
    expect(err).not.toBeInstanceOf(IntercomAuthError);
    expect(err).not.toBeInstanceOf(IntercomPermissionError);
    expect(err).toMatchObject({ status: 403, retryable: true });
    expect(gw.health().authError).toBeNull();
    expect(gw.health().availability.unreachableSince).not.toBeNull();

    h.sim.state.applySettings({ html403Probability: 0 });
    expect((await gw.listContacts({ perPage: 1 })).data.length).toBe(1);
    expect(gw.health().availability.unreachableSince).toBeNull();
    expect(gw.health().availability.denied).toEqual([]);
  });

  it('passes after the gateway retries it', async () => {
    const gw = h.gateway({ maxRetries: 5 });
    h.sim.state.applySettings({ html403Probability: 1 });
    const before = h.records.length;
    const call = gw.listContacts({ perPage: 1 });
    await until(async () => h.records.slice(before).some((r) => r.endpoint === 'GET /contacts' && r.status === 403));
    h.sim.state.applySettings({ html403Probability: 0 });
    expect((await call).data.length).toBe(1);
  });
});

describe('Intercom unreachable', () => {
  it('readiness fails once Intercom has not answered for longer than the threshold, and recovers with the next answer', async () => {
    const { createIntercomAuthCheck } = await import('../../src/http/health.ts');
    const t0 = Date.now();
    let offsetMs = 0;
    const gw = h.gateway({ maxRetries: 0, now: () => t0 + offsetMs });
    const check = createIntercomAuthCheck({
      me: () => gw.me(),
      authError: () => gw.health().authError,
      availability: () => gw.health(),
      unreachableAlertSeconds: 300,
    });
    expect(await check()).toEqual({ ok: true });
    await h.control('POST', '/__sim/faults', { method: 'GET', path: '/contacts', kind: 'status', status: 503, count: 1 });
    await expect(gw.listContacts({ perPage: 1 })).rejects.toMatchObject({ status: 503, retryable: true });
    // Within the threshold: still ready.
    offsetMs = 299_000;
    expect((await check()).ok).toBe(true);
    offsetMs = 301_000;
    const down = await check();
    expect(down.ok).toBe(false);
    expect(down.detail).toMatch(/Intercom unreachable for 30\d s \(threshold 300 s\)/);
    expect(gw.health().unreachableSeconds).toBeGreaterThan(300);
    await gw.listContacts({ perPage: 1 });
    expect(await check()).toEqual({ ok: true });
    expect(gw.health().unreachableSeconds).toBe(0);
  });
});
