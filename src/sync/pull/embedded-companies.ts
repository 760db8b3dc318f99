import type { IntercomContact } from '../../intercom/payloads.ts';

/**
 * A contact's embedded company list, when it is known to be complete: `has_more` false AND `total_count` equal to the
 * items. `has_more` alone lies: a recorded live contact says `has_more: false, total_count: 14` with 11 items
 * (https://github.com/estuary/connectors/blob/main/source-intercom-native/tests/snapshots/snapshots__capture_v2_16__capture.stdout.json).
 * null = incomplete: fetch GET /contacts/{id}/companies, and never detach anything on what the payload showed.
 */
export function embeddedCompanyIds(c: IntercomContact): string[] | null {
  const l = c.companies;
  return !l.hasMore && l.totalCount === l.ids.length ? l.ids : null;
}
