import type { AttributeRegistry } from './attributes.ts';
import type { ContactStore } from './contacts.ts';
import { ApiError, invalidParam } from './errors.ts';
import type { ContactData, ContactRecord } from './model.ts';
import { compileQuery, fieldDef } from './search-query.ts';

export const DEFAULT_PER_PAGE = 50;
export const MAX_PER_PAGE = 150;
const CACHE_SIZE = 64;

export interface PageOf {
  items: ContactData[];
  total: number;
  page: number;
  perPage: number;
  next: string | null;
}

interface CachedResult {
  key: string;
  recs: ContactRecord[];
}

interface Cursor {
  g?: number; // cursor generation (search): cursors of an older generation have expired
  k?: string; // cache entry (search)
  o: number; // offset into the result (search) or into creation order (list)
  p: number; // page number of the page the cursor leads to
  t?: number; // simulator-clock ms when the cursor was handed out
}

/** Intercom's documented answer for a bad or stale cursor (developers.intercom.com, 2.4 "List all contacts"). */
const staleCursor = () =>
  new ApiError(
    400,
    'client_error',
    'Invalid starting_after param. Please try again using a starting_after value from a paginated response',
  );

function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

function decodeCursor(s: string): Cursor {
  try {
    const c = JSON.parse(Buffer.from(s, 'base64url').toString()) as Cursor;
    if (typeof c.o === 'number' && typeof c.p === 'number') return c;
  } catch {
    // fall through
  }
  throw invalidParam('starting_after is not a valid cursor', 'starting_after');
}

export function parsePerPage(raw: unknown): number {
  if (raw === undefined || raw === null || raw === '') return DEFAULT_PER_PAGE;
  const n = typeof raw === 'string' ? Number(raw) : raw;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_PER_PAGE) {
    throw invalidParam(`per_page must be an integer between 1 and ${MAX_PER_PAGE}`, 'per_page');
  }
  return n;
}

/**
 * Search and list over the index view of contacts. A search is evaluated and sorted once; its
 * cursors point into a cached result so later pages cost O(page). If the cache entry is gone the
 * query is re-run and the cursor's offset reused, so cursors never die on the daemon.
 */
export class ContactSearch {
  private cache = new Map<string, CachedResult>();
  private nextCacheId = 1;
  private countCache: { version: number; validUntilMs: number; total: number } | null = null;
  /** Bumped by expireCursors(): Intercom forgets search cursors (400 "Invalid starting_after param": https://developers.intercom.com/docs/references/2.4/rest-api/contacts/list-contacts/), so clients must cope. */
  private generation = 0;

  constructor(
    private readonly contacts: ContactStore,
    private readonly attributes: AttributeRegistry,
    /** Realism setting cursor_idle_seconds; 0 = cursors never expire. */
    private readonly cursorIdleSeconds: () => number = () => 0,
  ) {}

  /** A cursor unused for longer than the idle limit is refused, list and search alike. */
  private decode(raw: string, nowMs: number): Cursor {
    const c = decodeCursor(raw);
    const idle = this.cursorIdleSeconds();
    if (idle > 0 && c.t !== undefined && nowMs - c.t >= idle * 1000) throw staleCursor();
    return c;
  }

  clear(): void {
    this.cache.clear();
    this.countCache = null;
  }

  /** Every search cursor handed out so far now answers 400, as an expired or unknown cursor does. */
  expireCursors(): void {
    this.generation++;
    this.cache.clear();
  }

  search(body: unknown, nowMs: number, tz: string): PageOf {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw new ApiError(400, 'bad_request', 'Request body must be a JSON object');
    }
    const { query, pagination, sort, ...rest } = body as Record<string, unknown>;
    const extra = Object.keys(rest)[0];
    if (extra !== undefined) throw new ApiError(400, 'bad_request', `bad '${extra}' parameter`);
    if (query === undefined) throw new ApiError(400, 'parameter_not_found', 'query is required', 'query');
    const pag = (pagination ?? {}) as Record<string, unknown>;
    if (typeof pag !== 'object' || Array.isArray(pag)) throw invalidParam('pagination must be an object', 'pagination');
    const perPage = parsePerPage(pag.per_page);
    const predicate = compileQuery(query, this.attributes, tz);
    const compare = this.comparator(sort);
    const key = JSON.stringify({ query, sort: sort ?? null });

    const startingAfter = pag.starting_after;
    let cursor: Cursor = { o: 0, p: 1 };
    if (startingAfter !== undefined && startingAfter !== null) {
      if (typeof startingAfter !== 'string') throw invalidParam('starting_after must be a string', 'starting_after');
      cursor = this.decode(startingAfter, nowMs);
      if ((cursor.g ?? 0) !== this.generation) throw staleCursor();
    }
    let entryId = cursor.k;
    let entry = entryId !== undefined ? this.cache.get(entryId) : undefined;
    if (!entry || entry.key !== key) {
      const recs: ContactRecord[] = [];
      for (const rec of this.contacts.order) {
        const view = this.contacts.visibleInIndex(rec, nowMs);
        if (view && predicate(view)) recs.push(rec);
      }
      if (compare) recs.sort((a, b) => compare(a.indexed!, b.indexed!) || a.seq - b.seq);
      entry = { key, recs };
      entryId = String(this.nextCacheId++);
      this.cache.set(entryId, entry);
      if (this.cache.size > CACHE_SIZE) this.cache.delete(this.cache.keys().next().value!);
    }
    const items: ContactData[] = [];
    let i = cursor.o;
    for (; i < entry.recs.length && items.length < perPage; i++) {
      // Entries merged, deleted or archived since the query ran drop out; the rest show their index view.
      const view = this.contacts.visibleInIndex(entry.recs[i]!, nowMs);
      if (view) items.push(view);
    }
    const more = i < entry.recs.length;
    return {
      items,
      total: entry.recs.length,
      page: cursor.p,
      perPage,
      next: more ? encodeCursor({ g: this.generation, k: entryId!, o: i, p: cursor.p + 1, t: nowMs }) : null,
    };
  }

  private comparator(sort: unknown): ((a: ContactData, b: ContactData) => number) | null {
    if (sort === undefined || sort === null) return null;
    if (typeof sort !== 'object' || Array.isArray(sort)) throw invalidParam('sort must be an object', 'sort');
    const { field, order } = sort as Record<string, unknown>;
    if (typeof field !== 'string') throw invalidParam('sort.field is required', 'sort.field');
    const def = fieldDef(field, this.attributes);
    if (!def || def.type === 'tag' || def.type === 'segment') throw invalidParam(`'${field}' cannot be sorted on`, 'sort.field');
    const ord = order ?? 'descending';
    if (ord !== 'ascending' && ord !== 'descending') {
      throw new ApiError(400, 'invalid_sort_order', "Sort order must be either 'ascending' or 'descending'");
    }
    const dir = ord === 'ascending' ? 1 : -1;
    return (a, b) => {
      const x = def.get(a);
      const y = def.get(b);
      // Missing values sort last whatever the direction.
      if (x === null || x === undefined) return y === null || y === undefined ? 0 : 1;
      if (y === null || y === undefined) return -1;
      return (x < y ? -1 : x > y ? 1 : 0) * dir;
    };
  }

  /** GET /contacts: creation order, cursor = position in that order. O(page) after the first count. */
  list(perPageRaw: unknown, startingAfter: unknown, nowMs: number): PageOf {
    const perPage = parsePerPage(perPageRaw);
    let cursor: Cursor = { o: 0, p: 1 };
    if (typeof startingAfter === 'string' && startingAfter !== '') cursor = this.decode(startingAfter, nowMs);
    const order = this.contacts.order;
    const items: ContactData[] = [];
    let nextPos = -1;
    for (let i = Math.max(0, cursor.o); i < order.length; i++) {
      const view = this.contacts.visibleInIndex(order[i]!, nowMs);
      if (!view) continue;
      if (items.length < perPage) items.push(view);
      else {
        nextPos = i;
        break;
      }
    }
    const total = this.visibleTotal(nowMs);
    return {
      items,
      total,
      page: cursor.p,
      perPage,
      next: nextPos >= 0 ? encodeCursor({ o: nextPos, p: cursor.p + 1, t: nowMs }) : null,
    };
  }

  /**
   * The visible count changes only with a write (version) or when a pending index lands, so it is
   * cached until either happens: paging 100k contacts must not rescan them on every page.
   */
  private visibleTotal(nowMs: number): number {
    const cc = this.countCache;
    if (cc && cc.version === this.contacts.version && nowMs < cc.validUntilMs) return cc.total;
    let total = 0;
    let validUntilMs = Infinity;
    for (const rec of this.contacts.order) {
      if (this.contacts.visibleInIndex(rec, nowMs)) total += 1;
      const due = rec.pending[0]?.at;
      if (due !== undefined && due < validUntilMs) validUntilMs = due;
    }
    this.countCache = { version: this.contacts.version, validUntilMs, total };
    return total;
  }
}
