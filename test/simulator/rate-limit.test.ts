import { afterEach, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../src/simulator/server.ts';
import { call, control, start } from './helpers.ts';

let sim: RunningSimulator;
afterEach(() => sim?.close());

// A window start on the 10-second grid, so the test controls exactly where in the window it is.
const T0 = 1_800_000_000;

describe('rate limits in 10-second windows', () => {
  it('allows floor(500/6) = 83 per window, reports headers, answers 429, and resets on the next window', async () => {
    sim = await start({ rateLimitPerMinute: 500 });
    await control(sim, 'POST', '/clock', { freeze: true, set: T0 + 3 });
    for (let i = 1; i <= 83; i++) {
      const r = await call(sim, 'GET', '/me');
      expect(r.status).toBe(200);
      expect(r.headers.get('x-ratelimit-limit')).toBe('83');
      expect(r.headers.get('x-ratelimit-remaining')).toBe(String(83 - i));
      expect(r.headers.get('x-ratelimit-reset')).toBe(String(T0 + 10));
    }
    const limited = await call(sim, 'GET', '/contacts');
    expect(limited.status).toBe(429);
    expect(limited.body.errors[0]).toEqual({ code: 'rate_limit_exceeded', message: 'Exceeded rate limit of 83 in 10_seconds' });
    expect(limited.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(limited.headers.get('x-request-id')).toBe(limited.body.request_id);

    await control(sim, 'POST', '/clock', { advance_seconds: 6 }); // T0+9: same window
    expect((await call(sim, 'GET', '/me')).status).toBe(429);
    await control(sim, 'POST', '/clock', { advance_seconds: 1 }); // T0+10: next window
    const fresh = await call(sim, 'GET', '/me');
    expect(fresh.status).toBe(200);
    expect(fresh.headers.get('x-ratelimit-remaining')).toBe('82');
    expect(fresh.headers.get('x-ratelimit-reset')).toBe(String(T0 + 20));

    const stats = (await control(sim, 'GET', '/stats')).body;
    expect(stats.rate_limited).toBe(2);
    expect(stats.by_route['GET /contacts']).toEqual({ '429': 1 });
    expect(stats.by_route['GET /me']).toEqual({ '200': 84, '429': 1 });
  });

  it('sends no rate-limit headers with bad credentials and does not count control calls', async () => {
    sim = await start({ rateLimitPerMinute: 60 });
    const r = await call(sim, 'GET', '/me', undefined, { Authorization: 'Bearer wrong' });
    expect(r.status).toBe(401);
    expect(r.headers.get('x-ratelimit-limit')).toBeNull();
    for (let i = 0; i < 30; i++) await control(sim, 'POST', '/contacts', { external_id: `c-${i}` });
    expect((await call(sim, 'GET', '/me')).headers.get('x-ratelimit-remaining')).toBe('9');
    expect((await control(sim, 'GET', '/stats')).body.total).toBe(2);
  });

  it('lets a foreign app drain the workspace budget', async () => {
    sim = await start({ rateLimitPerMinute: 600, workspaceRateLimitPerMinute: 1200 });
    await control(sim, 'POST', '/clock', { freeze: true, set: T0 });
    expect((await control(sim, 'POST', '/foreign-consume', { count: 195 })).body).toEqual({ used: 195, limit: 200 });
    const r = await call(sim, 'GET', '/me');
    expect(r.status).toBe(200);
    expect(r.headers.get('x-ratelimit-limit')).toBe('100');
    expect(r.headers.get('x-ratelimit-remaining')).toBe('4');
    for (let i = 0; i < 4; i++) expect((await call(sim, 'GET', '/me')).status).toBe(200);
    const limited = await call(sim, 'GET', '/me');
    expect(limited.status).toBe(429);
    expect(limited.body.errors[0].message).toBe('Exceeded rate limit of 200 in 10_seconds');
  });

  it('turns limits off with 0', async () => {
    sim = await start({ rateLimitPerMinute: 0 });
    for (let i = 0; i < 100; i++) expect((await call(sim, 'GET', '/me')).status).toBe(200);
    expect((await call(sim, 'GET', '/me')).headers.get('x-ratelimit-limit')).toBeNull();
  });
});
