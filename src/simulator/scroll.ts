import { randomUUID } from 'node:crypto';
import { ApiError } from './errors.ts';
import type { CompanyRecord } from './model.ts';

// GET /companies/scroll: one open scroll per app, 60 s idle expiry, end = empty page (https://developers.intercom.com/docs/references/rest-api/api.intercom.io/companies/scrolloverallcompanies).
export const SCROLL_PAGE_SIZE = 50;

interface OpenScroll {
  param: string;
  ids: string[];
  offset: number;
  lastUsedMs: number;
}

export class CompanyScroll {
  private open: OpenScroll | null = null;

  reset(): void {
    this.open = null;
  }

  next(
    param: string | null,
    nowMs: number,
    idleSeconds: number,
    snapshot: () => CompanyRecord[],
    lookup: (id: string) => CompanyRecord | undefined,
    /** True when a live scroll_param should answer 404 anyway (airbyte issue #9339). */
    spurious404: () => boolean = () => false,
  ): { data: CompanyRecord[]; param: string | null } {
    const alive = this.open !== null && nowMs - this.open.lastUsedMs < idleSeconds * 1000;
    if (!alive) this.open = null;
    let s: OpenScroll;
    if (param === null) {
      if (this.open) throw new ApiError(400, 'scroll_exists', 'scroll already exists for this workspace');
      s = { param: randomUUID(), ids: snapshot().map((c) => c.id), offset: 0, lastUsedMs: nowMs };
      this.open = s;
    } else {
      if (!this.open || this.open.param !== param) {
        throw new ApiError(404, 'not_found', 'scroll parameter not found');
      }
      if (spurious404()) {
        // The scroll is lost with it, so the app may start a new one.
        this.open = null;
        throw new ApiError(404, 'not_found', 'scroll parameter not found');
      }
      s = this.open;
    }
    s.lastUsedMs = nowMs;
    const data: CompanyRecord[] = [];
    while (s.offset < s.ids.length && data.length < SCROLL_PAGE_SIZE) {
      const c = lookup(s.ids[s.offset++]!);
      if (c && !c.deleted) data.push(c);
    }
    if (data.length === 0) {
      // The end: the parameter expires and the app may open a new scroll.
      this.open = null;
      return { data, param: null };
    }
    return { data, param: s.param };
  }
}
