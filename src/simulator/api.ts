import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError, errorBody, type ErrorItem } from './errors.ts';
import { sendJson, sleep } from './http-io.ts';
import { Router } from './router.ts';
import { companyRoutes } from './routes/companies.ts';
import { contactRoutes } from './routes/contacts.ts';
import { miscRoutes } from './routes/misc.ts';
import type { ApiHandler } from './routes/types.ts';
import type { SimulatorState } from './state.ts';

// The Intercom side: auth → rate limit → version check → faults → handler, with stats on every answer.
const VERSIONS = new Set([
  '1.0', '1.1', '1.2', '1.3', '1.4', '2.0', '2.1', '2.2', '2.3', '2.4', '2.5', '2.6', '2.7', '2.8', '2.9',
  '2.10', '2.11', '2.12', '2.13', '2.14',
]);

const FAULT_ERRORS: Record<number, ErrorItem> = {
  500: { code: 'server_error', message: 'Request failed due to an internal error. Please retry.' },
  502: { code: 'bad_gateway', message: 'Bad Gateway' },
  503: { code: 'service_unavailable', message: 'Service Unavailable' },
};

export function apiRouter(): Router<ApiHandler> {
  const r = new Router<ApiHandler>();
  contactRoutes(r);
  companyRoutes(r);
  miscRoutes(r);
  return r;
}

export async function handleApi(
  state: SimulatorState,
  router: Router<ApiHandler>,
  tokens: ReadonlySet<string>,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  raw: Buffer,
  requestId: string,
): Promise<void> {
  const method = req.method ?? 'GET';
  const match = router.match(method, url.pathname);
  const template = match?.template ?? '*';
  let truncate = false;
  const send = (status: number, body: unknown) => {
    state.stats.record(method, template, status);
    sendJson(res, status, body, truncate);
  };
  const fail = (status: number, errors: ErrorItem[]) => send(status, errorBody(requestId, errors));

  const auth = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  if (!auth || !tokens.has(auth[1]!)) {
    // No rate-limit headers on bad credentials, as on Intercom.
    return fail(401, [{ code: 'unauthorized', message: 'Access Token Invalid' }]);
  }

  const decision = state.limiter.take(state.clock.nowMs());
  if (decision) {
    res.setHeader('X-RateLimit-Limit', String(decision.limit));
    res.setHeader('X-RateLimit-Remaining', String(decision.remaining));
    res.setHeader('X-RateLimit-Reset', String(decision.reset));
    if (!decision.allowed) {
      return fail(429, [
        { code: 'rate_limit_exceeded', message: `Exceeded rate limit of ${decision.exceededLimit} in ${state.limiter.windowSeconds}_seconds` },
      ]);
    }
  }

  const version = req.headers['intercom-version'];
  if (typeof version === 'string' && !VERSIONS.has(version)) {
    return fail(400, [{ code: 'intercom_version_invalid', message: `Requested version ${version} is not valid` }]);
  }

  const { latencyMs, terminal } = state.faults.match(method, template);
  if (latencyMs > 0) await sleep(latencyMs);
  if (terminal) {
    state.stats.faultInjected();
    if (terminal.kind === 'drop') {
      state.stats.record(method, template, 0);
      req.socket.destroy();
      return;
    }
    if (terminal.kind === 'truncate') truncate = true;
    else if (terminal.status === 429) {
      const limit = decision?.limit ?? 0;
      return fail(429, [{ code: 'rate_limit_exceeded', message: `Exceeded rate limit of ${limit} in ${state.limiter.windowSeconds}_seconds` }]);
    } else return fail(terminal.status, [FAULT_ERRORS[terminal.status]!]);
  }

  if (!match) return fail(404, [{ code: 'not_found', message: 'Resource Not Found' }]);

  let body: unknown = undefined;
  if (raw.length > 0) {
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      return fail(400, [{ code: 'bad_request', message: 'Request body is not valid JSON' }]);
    }
  }
  try {
    const out = match.handler({ state, params: match.params, query: url.searchParams, body, nowMs: state.clock.nowMs() });
    send(out.status ?? 200, out.body);
  } catch (e) {
    if (e instanceof ApiError) return fail(e.status, e.errors);
    fail(500, [{ code: 'server_error', message: `Simulator error: ${(e as Error).message}` }]);
  }
}
