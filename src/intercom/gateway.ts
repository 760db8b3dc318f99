/**
 * The only module that talks to Intercom. Every call goes through the official SDK (its own retries off, our
 * timeout, our base URL, Intercom-Version pinned) and through one rate limiter; failures come back as the typed
 * errors of src/errors.ts and answers as the parsed values of payloads.ts.
 */
import { createHash } from 'node:crypto';
import { IntercomClient, IntercomError, type Intercom } from 'intercom-client';
import type { Logger } from 'pino';
import {
  IntercomApiError,
  IntercomAuthError,
  IntercomPayloadError,
  IntercomPermissionError,
  writeMayHaveApplied,
  type EntityKind,
} from '../errors.ts';
import { Availability, type AccessChange, type IntercomAvailability } from './availability.ts';
import { bufferedFetch } from './buffered-fetch.ts';
import { ENDPOINTS, PERMISSIONS, endpointLabel, type EndpointName } from './endpoints.ts';
import {
  isIntercomAnswer,
  outcomeOfError,
  readRateHeaders,
  requestIdFrom,
  toApiError,
  type AttemptOutcome,
} from './errors-from-response.ts';
import { systemClock, WindowLimiter, type LimiterClock, type LimiterState, type Priority } from './limiter.ts';
import {
  PayloadShapeError,
  parseAck,
  parseCompany,
  parseCompanyLookup,
  parseCompanyScroll,
  parseContact,
  parseContactCompaniesPage,
  parseContactPage,
  parseDataAttributes,
  parseMe,
  readableIdentity,
  type CompanyWrite,
  type ContactWrite,
  type DataAttribute,
  type IntercomCompany,
  type IntercomContact,
  type Page,
} from './payloads.ts';
import { DEFAULT_RETRY, withRetries } from './retry.ts';
import { ServerClockTracker, type ServerClock } from './server-clock.ts';

export type { Priority } from './limiter.ts';
export type { AccessChange, EndpointDenial, IntercomAvailability } from './availability.ts';
export type { CompanyWrite, ContactWrite, IntercomCompany, IntercomContact, Page } from './payloads.ts';
export type { ServerClock } from './server-clock.ts';

export interface RequestRecord {
  method: string;
  /** Template such as 'POST /contacts/search'. */
  endpoint: string;
  /** null = no answer (timeout, dropped or refused connection). */
  status: number | null;
  durationMs: number;
  requestId: string | null;
  priority: Priority;
  at: Date;
}

export interface GatewayOptions {
  token: string;
  baseUrl: string;
  apiVersion: string;
  ratePerMinute: number;
  /** Length of Intercom's rate window; 10 s in production. */
  windowMs?: number;
  /**
   * Clock of the rate windows: the limiter's refills and pauses, and the check of X-RateLimit-Reset. The system clock
   * by default; tests move one together with the simulator's.
   */
  rateClock?: LimiterClock;
  timeoutSeconds?: number;
  maxRetries?: number;
  /**
   * Most requests in flight at once (the rate itself is the reservoir's business). Default: enough to spend the
   * budget at 2 s of latency (Little's law), at least 10 and at most 256.
   */
  maxConcurrent?: number;
  redisUrl?: string | undefined;
  /** How long a call waits for Redis before failing with RateLimiterUnavailableError. Default 5 s. */
  redisConnectTimeoutMs?: number;
  /** Processes with the same id share one budget through Redis. Defaults to one id per Intercom token. */
  limiterId?: string;
  logger: Logger;
  onRequest?: (r: RequestRecord) => void;
  /** First re-probe of a refused token or endpoint; doubles per refusal. Default 10 s. */
  authProbeBaseMs?: number;
  /** Longest wait between re-probes. Default 5 min. */
  authProbeCapMs?: number;
  /** Clock for the re-probe back-off (tests move it); Date.now by default. */
  now?: () => number;
  /** A token or endpoint was refused, or works again (persisted by the caller for `status` and reports). */
  onAccessChange?: (c: AccessChange) => void;
}

export interface IntercomGateway {
  me(): Promise<{ appId: string; timezone: string; region: string | null }>;
  searchContacts(
    q: {
      query: unknown;
      perPage?: number;
      startingAfter?: string | null;
      sort?: { field: string; order: 'ascending' | 'descending' };
    },
    p?: Priority,
  ): Promise<Page<IntercomContact>>;
  listContacts(q: { perPage?: number; startingAfter?: string | null }, p?: Priority): Promise<Page<IntercomContact>>;
  /** 404 rejects with IntercomApiError status 404. */
  getContact(id: string, p?: Priority): Promise<IntercomContact>;
  /** 404 resolves to null. */
  findContactByExternalId(externalId: string, p?: Priority): Promise<IntercomContact | null>;
  createContact(body: ContactWrite, p?: Priority): Promise<IntercomContact>;
  updateContact(id: string, body: ContactWrite, p?: Priority): Promise<IntercomContact>;
  deleteContact(id: string, p?: Priority): Promise<void>;
  archiveContact(id: string, p?: Priority): Promise<void>;
  unarchiveContact(id: string, p?: Priority): Promise<void>;
  mergeContacts(fromLeadId: string, intoUserId: string, p?: Priority): Promise<IntercomContact>;
  /** Follows every page. */
  listContactCompanies(contactId: string, p?: Priority): Promise<IntercomCompany[]>;
  attachCompany(contactId: string, companyIntercomId: string, p?: Priority): Promise<void>;
  detachCompany(contactId: string, companyIntercomId: string, p?: Priority): Promise<void>;
  /** POST /companies, the upsert keyed on company_id. */
  upsertCompany(body: CompanyWrite, p?: Priority): Promise<IntercomCompany>;
  findCompanyByCompanyId(companyId: string, p?: Priority): Promise<IntercomCompany | null>;
  getCompany(id: string, p?: Priority): Promise<IntercomCompany>;
  deleteCompany(id: string, p?: Priority): Promise<void>;
  scrollCompanies(
    scrollParam: string | null,
    p?: Priority,
  ): Promise<{ data: IntercomCompany[]; scrollParam: string | null }>;
  listDataAttributes(model: 'contact' | 'company', p?: Priority): Promise<DataAttribute[]>;
  createDataAttribute(
    a: { name: string; model: 'contact' | 'company'; dataType: 'string' | 'integer' | 'float' | 'boolean' | 'date' },
    p?: Priority,
  ): Promise<void>;
  limiterState(): LimiterState;
  /**
   * Intercom's now, from the Date header of the latest answer (this process's clock before any): what a remote
   * updated_at is checked against. Sends nothing.
   */
  serverClock(): ServerClock;
  /**
   * How many requests a caller should keep in flight to spend the budget rather than wait on latency: budget per
   * second × observed latency (Little's law), with headroom, bounded by the limiter's concurrency. The reservoir still
   * caps the rate, so overshooting costs nothing but queue slots; undershooting leaves budget unspent.
   */
  inFlightTarget(): number;
  /** authError: the token is refused everywhere (all calls halted until GET /me is accepted again). */
  health(): { authError: IntercomAuthError | null; availability: IntercomAvailability; unreachableSeconds: number };
  /** Stops the limiter (and its Redis connection); idempotent. */
  close(): Promise<void>;
}

type RawAnswer = { data: unknown; rawResponse: { status: number; headers: Headers | { get(n: string): string | null } } };
type SendOptions = IntercomClient.RequestOptions;
type Ctx = { entity?: EntityKind; intercomId?: string; externalKey?: string };

const SLOW_CALL_MS = 5_000;
/** Latency assumed before the first answer: generous, since too many in flight only queue in the limiter. */
const INITIAL_LATENCY_MS = 500;
/** Weight of the newest answer in the latency average: reacts within ~10 answers, ignores a single outlier. */
const LATENCY_ALPHA = 0.1;
/** Little's law gives the average; windows start with a full reservoir, so a margin keeps the burst fed. */
const IN_FLIGHT_HEADROOM = 1.5;

export function defaultMaxConcurrent(ratePerMinute: number): number {
  return Math.min(256, Math.max(10, Math.ceil((ratePerMinute / 60) * 2 * IN_FLIGHT_HEADROOM)));
}

/** GETs and the search POST change nothing in Intercom: resending them is always safe. */
function isRead(name: EndpointName): boolean {
  return ENDPOINTS[name].method === 'GET' || name === 'searchContacts';
}

export function createGateway(opts: GatewayOptions): IntercomGateway {
  return new Gateway(opts);
}

/**
 * Our request bodies (payloads.ts) are the contract with Intercom; the SDK's 2.14 request types are narrower than the
 * API: they cannot say `null` (which clears a field) and lack search `sort` (declared from Intercom-OpenAPI descriptions/2.16 on). The SDK serialises the
 * body unchanged, so this is the one place where our types are handed to the SDK's.
 */
function sdkRequest<T>(body: object): T {
  return body as T;
}

class Gateway implements IntercomGateway {
  private readonly client: IntercomClient;
  private readonly limiter: WindowLimiter;
  private readonly log: Logger;
  private readonly windowMs: number;
  private readonly rateClock: LimiterClock;
  private readonly timeoutSeconds: number;
  private readonly retry: typeof DEFAULT_RETRY;
  private readonly access: Availability;
  private tokenProbe: Promise<void> | null = null;
  private latencyMs: number | null = null;
  private readonly maxConcurrent: number;
  private readonly clock = new ServerClockTracker();

  constructor(private readonly opts: GatewayOptions) {
    this.windowMs = opts.windowMs ?? 10_000;
    this.rateClock = opts.rateClock ?? systemClock;
    this.timeoutSeconds = opts.timeoutSeconds ?? 20;
    this.retry = { ...DEFAULT_RETRY, maxRetries: opts.maxRetries ?? DEFAULT_RETRY.maxRetries };
    this.log = opts.logger.child({ module: 'intercom' });
    this.access = new Availability({
      probeBaseMs: opts.authProbeBaseMs ?? 10_000,
      probeCapMs: opts.authProbeCapMs ?? 300_000,
      ...(opts.now ? { now: opts.now } : {}),
      ...(opts.onAccessChange ? { onChange: opts.onAccessChange } : {}),
    });
    this.maxConcurrent = opts.maxConcurrent ?? defaultMaxConcurrent(opts.ratePerMinute);
    this.client = new IntercomClient({
      token: opts.token,
      baseUrl: opts.baseUrl,
      // The SDK types only the versions it knows; the header below pins whatever config says regardless.
      version: opts.apiVersion as NonNullable<IntercomClient.Options['version']>,
      headers: { 'Intercom-Version': opts.apiVersion },
      // Our limiter owns retries: SDK retries would bypass the budget and hammer Intercom during a 429.
      maxRetries: 0,
      timeoutInSeconds: this.timeoutSeconds,
      fetch: bufferedFetch,
    });
    this.limiter = new WindowLimiter({
      ratePerMinute: opts.ratePerMinute,
      windowMs: this.windowMs,
      maxConcurrent: this.maxConcurrent,
      jobExpirationMs: this.timeoutSeconds * 1000 + 5_000,
      limiterId: opts.limiterId ?? `intercom-sync-${createHash('sha256').update(opts.token).digest('hex').slice(0, 16)}`,
      redisUrl: opts.redisUrl,
      ...(opts.redisConnectTimeoutMs !== undefined ? { redisConnectTimeoutMs: opts.redisConnectTimeoutMs } : {}),
      logger: this.log.child({ component: 'limiter' }),
      clock: this.rateClock,
    });
  }

  // ---------------------------------------------------------------- plumbing

  private sendOptions(): SendOptions {
    return { maxRetries: 0, timeoutInSeconds: this.timeoutSeconds };
  }

  private record(name: EndpointName, priority: Priority, outcome: AttemptOutcome, startedAt: number, at: Date): void {
    const e = ENDPOINTS[name];
    const durationMs = Math.round(performance.now() - startedAt);
    const rec: RequestRecord = {
      method: e.method,
      endpoint: endpointLabel(e),
      status: outcome.status,
      durationMs,
      requestId: outcome.requestId,
      priority,
      at,
    };
    // Only answers measure latency: a timeout or a refused connection says nothing about a normal round trip.
    if (outcome.status !== null && outcome.status !== 429) {
      this.latencyMs = this.latencyMs === null ? durationMs : this.latencyMs + LATENCY_ALPHA * (durationMs - this.latencyMs);
    }
    if (durationMs > SLOW_CALL_MS) this.log.warn({ endpoint: rec.endpoint, durationMs, status: rec.status }, 'slow Intercom call');
    else this.log.debug({ endpoint: rec.endpoint, durationMs, status: rec.status }, 'Intercom call');
    try {
      this.opts.onRequest?.(rec);
    } catch (err) {
      this.log.warn({ err }, 'onRequest hook failed');
    }
  }

  /** Files a refusal under the token or the endpoint, and says so once per change. */
  private noteRefusal(err: IntercomApiError): void {
    if (err instanceof IntercomAuthError) {
      const first = this.access.authError() === null;
      this.access.halted(err);
      const next = this.access.snapshot().halted?.nextProbeAt.toISOString();
      if (first) {
        this.log.error(
          { status: err.status, code: err.code, requestId: err.requestId, endpoint: err.endpoint, nextProbeAt: next },
          'Intercom refuses the access token: every call is halted; GET /me re-checks it on a back-off',
        );
      } else this.log.warn({ nextProbeAt: next }, 'Intercom still refuses the access token');
    } else if (err instanceof IntercomPermissionError) {
      this.access.denied(err);
      this.log.error(
        { endpoint: err.endpoint, permission: err.permission, code: err.code, requestId: err.requestId },
        'Intercom refuses one endpoint for a missing permission: only work that needs it waits',
      );
    }
  }

  /** GET /me, single-flight, while the token is refused. Resolves when it is accepted again. */
  private probeToken(): Promise<void> {
    this.tokenProbe ??= this.attempt('me', 'push', {}, (o) => this.client.admins.identify(o).withRawResponse())
      .then(() => undefined)
      .finally(() => {
        this.tokenProbe = null;
      });
    return this.tokenProbe;
  }

  /** One HTTP attempt, inside the limiter. */
  private async attempt(
    name: EndpointName,
    priority: Priority,
    ctx: Ctx,
    send: (o: SendOptions) => Promise<RawAnswer>,
  ): Promise<{ body: unknown; status: number; requestId: string | null }> {
    const { method } = ENDPOINTS[name];
    const label = endpointLabel(ENDPOINTS[name]);
    let gate = this.access.gate(label, method, name === 'me');
    if (gate.kind === 'probe-token') {
      // The probe's own failure names GET /me; the caller gets a refusal naming its own request instead.
      await this.probeToken().catch(() => undefined);
      gate = this.access.gate(label, method, name === 'me');
    }
    if (gate.kind === 'refuse') throw gate.error;
    if (gate.kind === 'probe-token') throw this.access.haltRefusal(label, method);
    const probe = gate.probe;
    try {
      return await this.limiter.schedule(priority, async () => {
        // The token may have been refused while this call was queued: a 401 elsewhere stops it here too.
        const again = name === 'me' ? null : this.access.authError() ? this.access.haltRefusal(label, method) : null;
        if (again) throw again;
        const at = new Date();
        const started = performance.now();
        try {
          const raw = await send(this.sendOptions());
          const headers = raw.rawResponse.headers;
          this.clock.observe(headers);
          const outcome: AttemptOutcome = {
            status: raw.rawResponse.status,
            requestId: requestIdFrom(headers, raw.data),
            rate: readRateHeaders(headers, this.windowMs, this.rateClock.now()),
          };
          this.record(name, priority, outcome, started, at);
          await this.limiter.observe(outcome.rate);
          this.access.answered(label, true);
          if (name === 'me' && this.access.authError()) {
            this.access.tokenAccepted();
            this.log.warn('Intercom accepts the access token again: calls resume');
          }
          return { body: raw.data, status: raw.rawResponse.status, requestId: outcome.requestId };
        } catch (err) {
          const outcome = outcomeOfError(err, this.windowMs, this.rateClock.now());
          if (err instanceof IntercomError) this.clock.observe(err.rawResponse?.headers);
          this.record(name, priority, outcome, started, at);
          const apiErr = toApiError(err, { method, endpoint: label, permission: PERMISSIONS[name], ...ctx });
          if (apiErr.status === 429) await this.limiter.rateLimited(outcome.rate.resetAtMs);
          else if (outcome.status !== null) await this.limiter.observe(outcome.rate);
          const fromIntercom =
            outcome.status !== null &&
            outcome.status < 500 &&
            isIntercomAnswer(err instanceof IntercomError ? err.rawResponse?.headers : undefined, err instanceof IntercomError ? err.body : undefined);
          if (fromIntercom) this.access.answered(label, false);
          else this.access.unanswered();
          this.noteRefusal(apiErr);
          throw apiErr;
        }
      });
    } finally {
      if (probe) this.access.probeUnsettled(label);
    }
  }

  private async call<T>(
    name: EndpointName,
    priority: Priority,
    ctx: Ctx,
    send: (o: SendOptions) => Promise<RawAnswer>,
    parse: (body: unknown) => T,
  ): Promise<T> {
    const label = endpointLabel(ENDPOINTS[name]);
    // A write whose answer was lost may have been applied, or may still be applied after a newer one: sending it again
    // would duplicate a create or put two writes to one entity in flight, and Intercom takes no idempotency key
    // (docs/guarantees.md, "Writes in doubt" and "Late writes"). Only reads, and writes Intercom provably did not
    // apply, are retried here; the push engine records the rest as "in doubt".
    const safe = isRead(name);
    const answer = await withRetries(() => this.attempt(name, priority, ctx, send), this.retry, {
      shouldRetry: (err) => safe || !writeMayHaveApplied(err),
      onRetry: (err, n, delayMs) =>
        this.log.warn(
          { endpoint: label, status: err.status, code: err.code, requestId: err.requestId, attempt: n, delayMs },
          'retrying Intercom call',
        ),
    });
    try {
      const value = parse(answer.body);
      // Audit rows cite Intercom's request_id for every applied change; it rides on the parsed value, hidden from
      // equality checks and JSON so snapshots and hashes are unaffected.
      if (value !== null && typeof value === 'object' && answer.requestId && Object.isExtensible(value)) {
        Object.defineProperty(value, 'requestId', { value: answer.requestId, enumerable: false });
      }
      return value;
    } catch (err) {
      if (!(err instanceof PayloadShapeError)) throw err;
      const e = new IntercomPayloadError(
        `Intercom ${label} answered ${answer.status} with an unexpected body: ${err.message}` +
          (answer.requestId ? ` (request_id ${answer.requestId})` : ''),
        label,
        answer.requestId ?? undefined,
        { cause: err, identity: readableIdentity(answer.body) },
      );
      this.log.error({ endpoint: label, requestId: answer.requestId, problem: err.message }, 'malformed Intercom answer');
      throw e;
    }
  }

  // ---------------------------------------------------------------- operations

  me() {
    return this.call('me', 'push', {}, (o) => this.client.admins.identify(o).withRawResponse(), parseMe);
  }

  searchContacts(
    q: Parameters<IntercomGateway['searchContacts']>[0],
    p: Priority = 'pull',
  ): Promise<Page<IntercomContact>> {
    const pagination: { per_page?: number; starting_after?: string } = {};
    if (q.perPage !== undefined) pagination.per_page = q.perPage;
    if (q.startingAfter) pagination.starting_after = q.startingAfter;
    // `sort` is absent from the SDK's 2.14 types (sort is declared from the 2.16 description on: Intercom-OpenAPI descriptions/2.16, `search_request`) but the SDK sends the body unchanged.
    const body = sdkRequest<Intercom.SearchRequest>({ query: q.query, pagination, ...(q.sort ? { sort: q.sort } : {}) });
    return this.call(
      'searchContacts',
      p,
      { entity: 'contact' },
      async (o) => {
        const page = await this.client.contacts.search(body, o);
        return { data: page.response, rawResponse: page.rawResponse };
      },
      parseContactPage,
    );
  }

  listContacts(q: { perPage?: number; startingAfter?: string | null }, p: Priority = 'pull') {
    const req: Intercom.ListContactsRequest = {};
    if (q.perPage !== undefined) req.per_page = q.perPage;
    if (q.startingAfter) req.starting_after = q.startingAfter;
    return this.call(
      'listContacts',
      p,
      { entity: 'contact' },
      async (o) => {
        const page = await this.client.contacts.list(req, o);
        return { data: page.response, rawResponse: page.rawResponse };
      },
      parseContactPage,
    );
  }

  getContact(id: string, p: Priority = 'pull') {
    return this.call(
      'getContact',
      p,
      { entity: 'contact', intercomId: id },
      (o) => this.client.contacts.find({ contact_id: id }, o).withRawResponse(),
      parseContact,
    );
  }

  async findContactByExternalId(externalId: string, p: Priority = 'pull') {
    try {
      return await this.call(
        'findContactByExternalId',
        p,
        { entity: 'contact', externalKey: externalId },
        (o) => this.client.contacts.showContactByExternalId({ external_id: externalId }, o).withRawResponse(),
        parseContact,
      );
    } catch (err) {
      if (err instanceof IntercomApiError && err.status === 404) return null;
      throw err;
    }
  }

  createContact(body: ContactWrite, p: Priority = 'push') {
    return this.call(
      'createContact',
      p,
      { entity: 'contact', ...(body.external_id ? { externalKey: body.external_id } : {}) },
      // The SDK's request types cannot say `null` (which clears a field); the body goes to the wire unchanged.
      (o) => this.client.contacts.create(sdkRequest<Intercom.CreateContactRequest>(body), o).withRawResponse(),
      parseContact,
    );
  }

  updateContact(id: string, body: ContactWrite, p: Priority = 'push') {
    return this.call(
      'updateContact',
      p,
      { entity: 'contact', intercomId: id, ...(body.external_id ? { externalKey: body.external_id } : {}) },
      (o) =>
        this.client.contacts
          .update(sdkRequest<Intercom.UpdateContactRequest>({ ...body, contact_id: id }), o)
          .withRawResponse(),
      parseContact,
    );
  }

  deleteContact(id: string, p: Priority = 'push') {
    return this.call(
      'deleteContact',
      p,
      { entity: 'contact', intercomId: id },
      (o) => this.client.contacts.delete({ contact_id: id }, o).withRawResponse(),
      (b) => parseAck(b, 'contact_deleted'),
    );
  }

  archiveContact(id: string, p: Priority = 'push') {
    return this.call(
      'archiveContact',
      p,
      { entity: 'contact', intercomId: id },
      (o) => this.client.contacts.archive({ contact_id: id }, o).withRawResponse(),
      (b) => parseAck(b, 'contact_archived'),
    );
  }

  unarchiveContact(id: string, p: Priority = 'push') {
    return this.call(
      'unarchiveContact',
      p,
      { entity: 'contact', intercomId: id },
      (o) => this.client.contacts.unarchive({ contact_id: id }, o).withRawResponse(),
      (b) => parseAck(b, 'contact_unarchived'),
    );
  }

  mergeContacts(fromLeadId: string, intoUserId: string, p: Priority = 'push') {
    return this.call(
      'mergeContacts',
      p,
      { entity: 'contact', intercomId: fromLeadId },
      (o) => this.client.contacts.mergeLeadInUser({ from: fromLeadId, into: intoUserId }, o).withRawResponse(),
      parseContact,
    );
  }

  async listContactCompanies(contactId: string, p: Priority = 'pull'): Promise<IntercomCompany[]> {
    const byId = new Map<string, IntercomCompany>();
    let page = 1;
    let cursor: string | null = null;
    // A contact holds at most 1,000 companies (Intercom-OpenAPI descriptions/2.14, attachContactToACompany: `contact_company_limit_exceeded`); the bound only stops a server that never ends.
    for (let i = 0; i < 100; i++) {
      const startingAfter = cursor;
      const res = await this.call(
        'listContactCompanies',
        p,
        { entity: 'contact_company', intercomId: contactId },
        async (o) => {
          const opts = startingAfter ? { ...o, queryParams: { starting_after: startingAfter } } : o;
          const pg = await this.client.contacts.listAttachedCompanies({ contact_id: contactId, page, per_page: 50 }, opts);
          return { data: pg.response, rawResponse: pg.rawResponse };
        },
        parseContactCompaniesPage,
      );
      for (const c of res.data) byId.set(c.id, c);
      if (res.data.length === 0) break;
      if (res.nextCursor) cursor = res.nextCursor;
      else if (res.hasNextPageNumber) page++;
      else break;
    }
    return [...byId.values()];
  }

  attachCompany(contactId: string, companyIntercomId: string, p: Priority = 'push') {
    return this.call(
      'attachCompany',
      p,
      { entity: 'contact_company', intercomId: contactId },
      (o) => this.client.companies.attachContact({ contact_id: contactId, id: companyIntercomId }, o).withRawResponse(),
      (b) => parseAck(b, 'company'),
    );
  }

  detachCompany(contactId: string, companyIntercomId: string, p: Priority = 'push') {
    return this.call(
      'detachCompany',
      p,
      { entity: 'contact_company', intercomId: contactId },
      (o) =>
        this.client.companies
          .detachContact({ contact_id: contactId, company_id: companyIntercomId }, o)
          .withRawResponse(),
      (b) => parseAck(b, 'company'),
    );
  }

  upsertCompany(body: CompanyWrite, p: Priority = 'push') {
    return this.call(
      'upsertCompany',
      p,
      { entity: 'company', externalKey: body.company_id },
      (o) =>
        this.client.companies.createOrUpdate(sdkRequest<Intercom.CreateOrUpdateCompanyRequest>(body), o).withRawResponse(),
      parseCompany,
    );
  }

  async findCompanyByCompanyId(companyId: string, p: Priority = 'pull') {
    try {
      return await this.call(
        'findCompanyByCompanyId',
        p,
        { entity: 'company', externalKey: companyId },
        (o) => this.client.companies.retrieve({ company_id: companyId }, o).withRawResponse(),
        parseCompanyLookup,
      );
    } catch (err) {
      if (err instanceof IntercomApiError && err.status === 404) return null;
      throw err;
    }
  }

  getCompany(id: string, p: Priority = 'pull') {
    return this.call(
      'getCompany',
      p,
      { entity: 'company', intercomId: id },
      (o) => this.client.companies.find({ company_id: id }, o).withRawResponse(),
      parseCompany,
    );
  }

  deleteCompany(id: string, p: Priority = 'push') {
    return this.call(
      'deleteCompany',
      p,
      { entity: 'company', intercomId: id },
      (o) => this.client.companies.delete({ company_id: id }, o).withRawResponse(),
      (b) => parseAck(b, 'deleted_company_object'),
    );
  }

  scrollCompanies(scrollParam: string | null, p: Priority = 'pull') {
    return this.call(
      'scrollCompanies',
      // Once a scroll is open its next page jumps the queue, whatever the caller's priority (limiter.ts).
      scrollParam ? 'scroll' : p,
      { entity: 'company' },
      async (o) => {
        const page = await this.client.companies.scroll(scrollParam ? { scroll_param: scrollParam } : {}, o);
        return { data: page.response, rawResponse: page.rawResponse };
      },
      parseCompanyScroll,
    );
  }

  listDataAttributes(model: 'contact' | 'company', p: Priority = 'pull') {
    return this.call(
      'listDataAttributes',
      p,
      {},
      // Archived attributes still reserve their names, so callers need to see them.
      (o) => this.client.dataAttributes.list({ model, include_archived: true }, o).withRawResponse(),
      parseDataAttributes,
    );
  }

  createDataAttribute(
    a: { name: string; model: 'contact' | 'company'; dataType: 'string' | 'integer' | 'float' | 'boolean' | 'date' },
    p: Priority = 'push',
  ) {
    return this.call(
      'createDataAttribute',
      p,
      {},
      (o) =>
        this.client.dataAttributes
          .create({ name: a.name, model: a.model, data_type: a.dataType } as Intercom.CreateDataAttributeRequest, o)
          .withRawResponse(),
      (b) => parseAck(b, 'data_attribute'),
    );
  }

  limiterState(): LimiterState {
    return this.limiter.state();
  }

  serverClock(): ServerClock {
    return this.clock.read();
  }

  inFlightTarget(): number {
    const perSecond = this.limiter.windowBudget() / (this.windowMs / 1000);
    const latencySeconds = (this.latencyMs ?? INITIAL_LATENCY_MS) / 1000;
    return Math.max(1, Math.min(this.maxConcurrent, Math.ceil(perSecond * latencySeconds * IN_FLIGHT_HEADROOM) + 1));
  }

  health() {
    return {
      authError: this.access.authError(),
      availability: this.access.snapshot(),
      unreachableSeconds: this.access.unreachableSeconds(),
    };
  }

  close(): Promise<void> {
    return this.limiter.close();
  }
}
