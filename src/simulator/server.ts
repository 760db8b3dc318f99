import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { handleApi, apiRouter } from './api.ts';
import { controlRouter } from './control-api.ts';
import { ApiError, errorBody } from './errors.ts';
import { readBody, sendJson } from './http-io.ts';
import { profileSettings, type Profile, type RealismSettings } from './realism.ts';
import type { SimSettings } from './settings.ts';
import { SimulatorState } from './state.ts';
import { isValidTimeZone } from './timezone.ts';

/** Every realism setting may also be given on its own; it then overrides the profile's value. */
export interface SimulatorOptions extends Partial<RealismSettings> {
  /** 'default' (friendly, fast) or 'realistic' (docs/simulator.md, "Realistic profile"). */
  profile?: Profile;
  /** 0 = random free port. */
  port?: number;
  host?: string;
  /** The accepted bearer token; default 'sim-token'. */
  token?: string;
  /** More accepted tokens (e.g. a second app). */
  tokens?: string[];
  /** Per-minute app limit, enforced in windows of rateWindowSeconds; 0 = off. Default 500. */
  rateLimitPerMinute?: number;
  /** Rate-limit window length in whole seconds. Default 10, Intercom's. */
  rateWindowSeconds?: number;
  /** Workspace-wide per-minute budget that foreign apps share with us; 0 = none. Default 0. */
  workspaceRateLimitPerMinute?: number;
  indexingDelaySeconds?: number;
  timezone?: string;
  seed?: number;
  seedContacts?: number;
  seedCompanies?: number;
  scrollIdleSeconds?: number;
  companyListCeiling?: number;
}

export interface RunningSimulator {
  /** Base URL without trailing slash. */
  url: string;
  port: number;
  token: string;
  state: SimulatorState;
  /**
   * The tokens the API accepts, live: deleting one makes every request with it answer 401 "Access Token Invalid"
   * (a revoked token), adding it back restores it, without restarting anything.
   */
  tokens: Set<string>;
  close(): Promise<void>;
}

export { SimulatorState };

export async function startSimulator(opts: SimulatorOptions = {}): Promise<RunningSimulator> {
  const timezone = opts.timezone ?? 'UTC';
  if (!isValidTimeZone(timezone)) throw new Error(`Unknown time zone: ${timezone}`);
  const profile = opts.profile ?? 'default';
  const realism = profileSettings(profile);
  for (const key of Object.keys(realism) as Array<keyof RealismSettings>) overrideSetting(realism, opts, key);
  const settings: SimSettings = {
    ...realism,
    profile,
    rateLimitPerMinute: opts.rateLimitPerMinute ?? 500,
    workspaceRateLimitPerMinute: opts.workspaceRateLimitPerMinute ?? 0,
    rateWindowSeconds: opts.rateWindowSeconds ?? 10,
    indexingDelaySeconds: opts.indexingDelaySeconds ?? 0,
    timezone,
    scrollIdleSeconds: opts.scrollIdleSeconds ?? 60,
    companyListCeiling: opts.companyListCeiling ?? 10_000,
  };
  const state = new SimulatorState(settings, opts.seed ?? 1);
  if (opts.seedContacts || opts.seedCompanies) {
    state.seedData({
      ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
      contacts: opts.seedContacts ?? 0,
      companies: opts.seedCompanies ?? 0,
    });
  }
  const token = opts.token ?? 'sim-token';
  const tokens = new Set([token, ...(opts.tokens ?? [])]);
  const api = apiRouter();
  const control = controlRouter();

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const requestId = randomUUID();
    res.setHeader('X-Request-Id', requestId);
    // Intercom's Date is on Intercom's clock: here the simulator's, so a test that moves it moves what the gateway
    // reads as the server's now (Node would otherwise stamp this host's real time).
    res.setHeader('Date', new Date(state.clock.nowMs()).toUTCString());
    const url = new URL(req.url ?? '/', 'http://simulator.local');
    let raw: Buffer;
    try {
      raw = await readBody(req);
    } catch {
      req.socket.destroy();
      return;
    }
    if (url.pathname === '/__sim' || url.pathname.startsWith('/__sim/')) {
      const m = control.match(req.method ?? 'GET', url.pathname);
      if (!m) return sendJson(res, 404, errorBody(requestId, [{ code: 'not_found', message: 'Unknown control endpoint' }]));
      try {
        const body = raw.length > 0 ? (JSON.parse(raw.toString('utf8')) as unknown) : {};
        const input = body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
        sendJson(res, 200, await m.handler({ state, params: m.params, query: url.searchParams, body: input }));
      } catch (e) {
        if (e instanceof ApiError) sendJson(res, e.status, errorBody(requestId, e.errors));
        else sendJson(res, 400, errorBody(requestId, [{ code: 'bad_request', message: (e as Error).message }]));
      }
      return;
    }
    await handleApi(state, api, tokens, req, res, url, raw, requestId);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) sendJson(res, 500, errorBody(randomUUID(), [{ code: 'server_error', message: String(e) }]));
    });
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    token,
    state,
    tokens,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/** One explicitly given option wins over the profile's preset; typed per key so no cast is needed. */
function overrideSetting<K extends keyof RealismSettings>(
  target: RealismSettings,
  opts: Partial<Pick<RealismSettings, K>>,
  key: K,
): void {
  const value = opts[key];
  if (value !== undefined) target[key] = structuredClone(value);
}
