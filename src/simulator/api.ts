import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError, errorBody, type ErrorItem } from './errors.ts';
import type { FaultRule } from './faults.ts';
import { sendJson, sleep } from './http-io.ts';
import { HTML_403, sampleLatencyMs, scopeDenial, TOKEN_UNAUTHORIZED_MESSAGE } from './realism.ts';
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
  const settings = state.settings;
  let truncate = false;
  let rateWindow: number | null = null;
  const send = (status: number, body: unknown) => {
    state.stats.record(method, template, status, { requestId, rateWindow });
    sendJson(res, status, body, truncate);
  };
  const fail = (status: number, errors: ErrorItem[]) => send(status, errorBody(requestId, errors));

  const delayMs = sampleLatencyMs(settings.latency, method, template, state.realismRng);
  if (delayMs > 0) await sleep(delayMs);

  // The load balancer refuses before Intercom sees the request: HTML, no request id, no rate-limit headers
  // (community thread "api-requests-are-returning-403").
  if (settings.html403Probability > 0 && state.realismRng() < settings.html403Probability) {
    state.stats.record(method, template, 403, { requestId: null, rateWindow: null });
    res.removeHeader('X-Request-Id');
    const html = Buffer.from(HTML_403);
    res.writeHead(403, { 'Content-Type': 'text/html', 'Content-Length': String(html.length), Server: 'awselb/2.0' });
    res.end(html);
    return;
  }

  const auth = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  if (!auth || !tokens.has(auth[1]!)) {
    // No rate-limit headers on bad credentials, as on Intercom.
    return fail(401, [{ code: 'unauthorized', message: 'Access Token Invalid' }]);
  }

  const decision = state.limiter.take(state.clock.nowMs());
  if (decision) {
    rateWindow = decision.window;
    res.setHeader('X-RateLimit-Limit', String(decision.limit));
    res.setHeader('X-RateLimit-Remaining', String(decision.remaining));
    res.setHeader('X-RateLimit-Reset', String(decision.reset));
    if (!decision.allowed) {
      return fail(429, [
        { code: 'rate_limit_exceeded', message: `Exceeded rate limit of ${decision.exceededLimit} in ${state.limiter.windowSeconds}_seconds` },
      ]);
    }
  }

  // A token without the permission an endpoint needs is refused there only (community thread
  // "messages-api-endpoint-access": `token_unauthorized`); every other endpoint keeps answering.
  const denial = match ? scopeDenial(settings.scopeDenied, method, template) : null;
  if (denial) return fail(denial.status ?? 403, [{ code: 'token_unauthorized', message: TOKEN_UNAUTHORIZED_MESSAGE }]);

  const version = req.headers['intercom-version'];
  if (typeof version === 'string' && !VERSIONS.has(version)) {
    return fail(400, [{ code: 'intercom_version_invalid', message: `Requested version ${version} is not valid` }]);
  }

  const { latencyMs, latencyAfterMs, terminal, hold } = state.faults.match(method, template);
  if (hold) await state.faults.hold();
  if (latencyMs > 0) await sleep(latencyMs);
  const afterApply = terminal?.after_apply === true;
  if (terminal && !afterApply && failBefore(terminal)) return;

  if (!match) return fail(404, [{ code: 'not_found', message: 'Resource Not Found' }]);

  let outcome: { status: number; body: unknown };
  let body: unknown = undefined;
  let parsed = true;
  if (raw.length > 0) {
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      parsed = false;
    }
  }
  if (!parsed) outcome = { status: 400, body: errorBody(requestId, [{ code: 'bad_request', message: 'Request body is not valid JSON' }]) };
  else {
    try {
      const out = match.handler({ state, params: match.params, query: url.searchParams, body, nowMs: state.clock.nowMs() });
      outcome = { status: out.status ?? 200, body: out.body };
    } catch (e) {
      outcome =
        e instanceof ApiError
          ? { status: e.status, body: errorBody(requestId, e.errors) }
          : { status: 500, body: errorBody(requestId, [{ code: 'server_error', message: `Simulator error: ${(e as Error).message}` }]) };
    }
  }
  // The write above is applied whatever happens to its answer now.
  if (latencyAfterMs > 0) await sleep(latencyAfterMs);
  if (terminal && afterApply && failBefore(terminal)) return;
  send(outcome.status, outcome.body);

  /** Answers for a terminal fault; false when the fault only marks the answer for truncation. */
  function failBefore(rule: FaultRule): boolean {
    state.stats.faultInjected();
    if (rule.kind === 'drop') {
      state.stats.record(method, template, 0, { requestId, rateWindow });
      req.socket.destroy();
      return true;
    }
    if (rule.kind === 'truncate') {
      truncate = true;
      return false;
    }
    if (rule.status === 429) {
      const limit = decision?.limit ?? 0;
      fail(429, [{ code: 'rate_limit_exceeded', message: `Exceeded rate limit of ${limit} in ${state.limiter.windowSeconds}_seconds` }]);
    } else fail(rule.status, [FAULT_ERRORS[rule.status]!]);
    return true;
  }
}
