/**
 * The pull engine's store: the SQL behind src/sync/pull/ports.ts. Every data-table write happens inside
 * applyTransaction, which enters sync-apply mode first so pulled changes never reach the outbox.
 */
import type pg from 'pg';
import { tryAdvisoryLock } from '../advisory-lock.ts';
import { ident } from '../migrate.ts';
import { enterSyncApplyMode, withTransaction } from '../transaction.ts';
import { auditQueries } from './audit.ts';
import { mappingQueries, toLinkedMapping } from './mappings.ts';
import { COMPANY_COLUMNS, CONTACT_COLUMNS, MAPPING_COLUMNS, type CompanyRow, type ContactRow, type MappingRow } from '../rows.ts';
import { COMPANY_SNAPSHOT_COLUMNS, CONTACT_COLUMN_TYPES, CONTACT_SNAPSHOT_COLUMNS, jsonColumnValue, localRowQueries } from './local-rows.ts';
import { OUTBOX_CHANNEL } from '../listen.ts';
import { syncStateQueries } from './sync-state.ts';
import { writeDoubtQueries } from './write-doubts.ts';
import type { ApplyTx, PullStorePort } from '../../sync/pull/ports.ts';
import type { ContactSnapshot } from '../../sync/snapshot.ts';

export function createPullStore(pool: pg.Pool, schema: string): PullStorePort {
  const s = ident(schema);
  const mappings = mappingQueries(schema);
  const audit = auditQueries(schema);
  const state = syncStateQueries(schema);
  const doubts = writeDoubtQueries(schema);
  const dataRows = localRowQueries(schema);
  let savepointSeq = 0;

  // A bulk load into fresh tables runs long before autovacuum's first ANALYZE: without statistics the planner
  // scans whole tables for the page's key look-ups. Rows created in batches are counted, and each time the tables
  // have roughly doubled since the last ANALYZE this process ran, the hot tables are analyzed (after the commit).
  let createdSinceAnalyze = 0;
  let analyzeThreshold = 2_000;
  const analyzeIfGrown = async (created: number): Promise<void> => {
    createdSinceAnalyze += created;
    if (createdSinceAnalyze < analyzeThreshold) return;
    analyzeThreshold = Math.max(analyzeThreshold, createdSinceAnalyze) * 2;
    createdSinceAnalyze = 0;
    // Statistics only: failing to refresh them (privileges, a dropped connection) must not fail the pull.
    await pool.query(`ANALYZE ${s}.contacts, ${s}.sync_mappings, ${s}.contact_companies`).catch(() => undefined);
  };

  const txPort = (tx: pg.PoolClient, created = { n: 0 }): ApplyTx => {
    const one = async <T extends pg.QueryResultRow>(sql: string, values: unknown[]): Promise<T | null> =>
      (await tx.query<T>(sql, values)).rows[0] ?? null;
    return {
      async clock() {
        return (await tx.query<{ now: Date }>(`SELECT clock_timestamp() AS now`)).rows[0]!.now;
      },
      async mappingByIntercomId(entity, intercomId) {
        return (await mappings.byIntercomIds(tx, entity, [intercomId], true))[0] ?? null;
      },
      async mappingByLocalId(entity, localId) {
        return (await mappings.byLocalIds(tx, entity, [localId], true))[0] ?? null;
      },
      mappingsByIntercomIds: (entity, ids) => mappings.byIntercomIds(tx, entity, ids),
      mappingsByLocalIds: (entity, ids) => mappings.byLocalIds(tx, entity, ids),
      contact: (id) => dataRows.contact(tx, id, true),
      // Look-ups by natural key come before an insert of that key. Two appliers (the scheduled pull and a webhook's
      // targeted pull, or a contact's unknown company and the companies scroll) may race to insert the same key;
      // a transaction-level advisory lock on the key makes the second wait and then find the first one's row.
      async contactByExternalId(x) {
        await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [`${schema}:contact:${x}`]);
        return one<ContactRow>(`SELECT ${CONTACT_COLUMNS} FROM ${s}.contacts WHERE external_id = $1 FOR UPDATE`, [x]);
      },
      async unlinkedContactsByEmail(email) {
        const { rows } = await tx.query<ContactRow>(
          `SELECT ${CONTACT_COLUMNS} FROM ${s}.contacts c
            WHERE lower(c.email) = lower($1) AND c.external_id IS NULL AND c.deleted_at IS NULL
              AND NOT EXISTS (SELECT 1 FROM ${s}.sync_mappings m
                               WHERE m.entity_type = 'contact' AND m.local_id = c.id AND m.intercom_id IS NOT NULL)
            ORDER BY c.id FOR UPDATE`,
          [email],
        );
        return rows;
      },
      insertContact: (snap, remoteCreatedAt) => dataRows.insert(tx, 'contacts', { ...snap, remote_created_at: remoteCreatedAt }),
      updateContact: (localId, patch) => dataRows.patch(tx, 'contacts', localId, patch, CONTACT_SNAPSHOT_COLUMNS),
      async markContactMerged(localId, intoLocalId) {
        await tx.query(`UPDATE ${s}.contacts SET merge_into_id = $2, intercom_id = NULL WHERE id = $1`, [localId, intoLocalId]);
        await tx.query(
          `UPDATE ${s}.sync_mappings SET intercom_id = NULL, updated_at = now() WHERE entity_type = 'contact' AND local_id = $1`,
          [localId],
        );
      },
      async softDeleteContact(localId) {
        await tx.query(`UPDATE ${s}.contacts SET deleted_at = coalesce(deleted_at, now()), intercom_id = NULL WHERE id = $1`, [localId]);
      },
      async restoreContact(localId) {
        await tx.query(`UPDATE ${s}.contacts SET deleted_at = NULL WHERE id = $1`, [localId]);
      },
      async releaseMappingIntercomId(entity, localId) {
        await tx.query(
          `UPDATE ${s}.sync_mappings SET intercom_id = NULL, updated_at = now() WHERE entity_type = $1 AND local_id = $2`,
          [entity, localId],
        );
      },
      async softDeleteCompany(localId) {
        await tx.query(`UPDATE ${s}.companies SET deleted_at = coalesce(deleted_at, now()), intercom_id = NULL WHERE id = $1`, [localId]);
      },
      company: (id) => dataRows.company(tx, id, true),
      async companyByCompanyId(cid) {
        await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [`${schema}:company:${cid}`]);
        return one<CompanyRow>(`SELECT ${COMPANY_COLUMNS} FROM ${s}.companies WHERE company_id = $1 FOR UPDATE`, [cid]);
      },
      writeDoubts: (entity, localId, windowSeconds) => doubts.forEntity(tx, entity, localId, windowSeconds),
      async settleWriteDoubts(ids) {
        if (ids.length === 0) return;
        await tx.query(`DELETE FROM ${s}.sync_write_doubts WHERE id = ANY($1::bigint[])`, [ids]);
      },
      writeDoubtsFor: (entity, localIds, windowSeconds) => doubts.forEntities(tx, entity, localIds, windowSeconds),
      async requestPush(entity, localId, fields) {
        await tx.query(`SELECT ${s}.enqueue_outbox($1, $2, 0, 'upsert', $3::text[])`, [entity, localId, [...fields]]);
        await tx.query(`SELECT pg_notify($1, $2)`, [OUTBOX_CHANNEL, schema]);
      },
      insertCompany: (snap) => dataRows.insert(tx, 'companies', snap),
      updateCompany: (localId, patch) => dataRows.patch(tx, 'companies', localId, patch, COMPANY_SNAPSHOT_COLUMNS),
      async hasPendingOutbox(entity, localId) {
        const r = await one(
          `SELECT 1 FROM ${s}.sync_outbox WHERE entity_type = $1 AND local_id = $2 AND related_id = 0 AND status = 'pending'`,
          [entity, localId],
        );
        return r !== null;
      },
      async contactCompanyIds(contactId) {
        const { rows } = await tx.query<{ company_id: number }>(
          `SELECT company_id FROM ${s}.contact_companies WHERE contact_id = $1 ORDER BY company_id`,
          [contactId],
        );
        return rows.map((r) => r.company_id);
      },
      async pendingAssociationCompanyIds(contactId) {
        const { rows } = await tx.query<{ related_id: number }>(
          `SELECT related_id FROM ${s}.sync_outbox WHERE entity_type = 'contact_company' AND local_id = $1 AND status = 'pending'`,
          [contactId],
        );
        return rows.map((r) => r.related_id);
      },
      async attach(contactId, companyId) {
        await tx.query(
          `INSERT INTO ${s}.contact_companies (contact_id, company_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
          [contactId, companyId],
        );
      },
      async detach(contactId, companyId) {
        await tx.query(`DELETE FROM ${s}.contact_companies WHERE contact_id = $1 AND company_id = $2`, [contactId, companyId]);
      },
      async upsertMapping(m) {
        // The mirror column is unique: a data row still carrying this id for another local entity lets go first.
        if (m.intercomId && m.status === 'active') {
          await tx.query(
            `UPDATE ${s}.${m.entityType === 'contact' ? 'contacts' : 'companies'} SET intercom_id = NULL
              WHERE intercom_id = $1 AND id <> $2`,
            [m.intercomId, m.localId],
          );
        }
        return mappings.upsert(tx, m);
      },
      setMappingStatus: (entity, localId, status, reason, mergedInto = null) =>
        mappings.setStatus(tx, entity, localId, status, reason, mergedInto),
      audit: (entries) => audit.insert(tx, entries),
      async invalidAlreadyAudited(entity, intercomId, remoteUpdatedAt) {
        const r = await one(
          `SELECT 1 FROM ${s}.audit_log WHERE entity_type = $1 AND intercom_id = $2 AND action = 'invalid'
              AND direction = 'pull' AND (details ->> 'remote_updated_at')::bigint = $3 LIMIT 1`,
          [entity, intercomId, remoteUpdatedAt],
        );
        return r !== null;
      },
      async lockExternalIdsHeld(externalIds) {
        if (externalIds.length === 0) return new Set();
        const keys = [...new Set(externalIds)].sort();
        // One lock per key, taken in sorted order within one statement: concurrent batch appliers never deadlock on
        // each other, and a per-record applier of one of these keys waits for this transaction (and vice versa).
        await tx.query(
          `SELECT pg_advisory_xact_lock(hashtextextended(k, 0))
             FROM (SELECT k FROM unnest($1::text[]) WITH ORDINALITY AS u(k, n) ORDER BY n) ordered`,
          [keys.map((x) => `${schema}:contact:${x}`)],
        );
        const { rows } = await tx.query<{ external_id: string }>(
          `SELECT external_id FROM ${s}.contacts WHERE external_id = ANY($1::text[])`,
          [keys],
        );
        return new Set(rows.map((r) => r.external_id));
      },
      async emailsWithUnlinkedContacts(emails) {
        if (emails.length === 0) return new Set();
        const { rows } = await tx.query<{ email: string }>(
          `SELECT DISTINCT lower(c.email) AS email FROM ${s}.contacts c
            WHERE lower(c.email) = ANY($1::text[]) AND c.external_id IS NULL AND c.deleted_at IS NULL
              AND NOT EXISTS (SELECT 1 FROM ${s}.sync_mappings m
                               WHERE m.entity_type = 'contact' AND m.local_id = c.id AND m.intercom_id IS NOT NULL)`,
          [[...new Set(emails.map((e) => e.toLowerCase()))]],
        );
        return new Set(rows.map((r) => r.email));
      },
      async insertPulledContacts(rows) {
        const out = new Map<string, number>();
        if (rows.length === 0) return out;
        const ids = rows.map((r) => r.intercomId);
        // As upsertMapping: whatever still claims these Intercom ids lets go first.
        await tx.query(`UPDATE ${s}.contacts SET intercom_id = NULL WHERE intercom_id = ANY($1::text[])`, [ids]);
        await tx.query(
          `UPDATE ${s}.sync_mappings SET intercom_id = NULL, status = CASE WHEN status = 'active' THEN 'merged' ELSE status END,
                  merged_into = coalesce(merged_into, intercom_id), updated_at = now()
            WHERE entity_type = 'contact' AND intercom_id = ANY($1::text[])`,
          [ids],
        );
        const col = <K extends keyof ContactSnapshot>(k: K) => rows.map((r) => r.snapshot[k]);
        const inserted = await tx.query<{ id: string | number; intercom_id: string }>(
          `INSERT INTO ${s}.contacts (external_id, role, email, phone, name, owner_id, unsubscribed_from_emails, signed_up_at,
                                      last_seen_at, custom_attributes, remote_created_at, intercom_id, remote_updated_at)
           SELECT external_id, role, email, phone, name, owner_id, unsubscribed_from_emails, to_timestamp(signed_up_at),
                  to_timestamp(last_seen_at), custom_attributes::jsonb, to_timestamp(remote_created_at), intercom_id,
                  to_timestamp(remote_updated_at)
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::boolean[],
                         $8::float8[], $9::float8[], $10::text[], $11::float8[], $12::text[], $13::float8[])
                  WITH ORDINALITY AS t(external_id, role, email, phone, name, owner_id, unsubscribed_from_emails,
                                       signed_up_at, last_seen_at, custom_attributes, remote_created_at, intercom_id,
                                       remote_updated_at, n)
            ORDER BY n
           RETURNING id, intercom_id`,
          [
            col('external_id'),
            col('role'),
            col('email'),
            col('phone'),
            col('name'),
            col('owner_id'),
            col('unsubscribed_from_emails'),
            col('signed_up_at'),
            col('last_seen_at'),
            rows.map((r) => JSON.stringify(r.snapshot.custom_attributes ?? {})),
            rows.map((r) => r.remoteCreatedAt),
            ids,
            rows.map((r) => r.remoteUpdatedAt),
          ],
        );
        for (const r of inserted.rows) out.set(r.intercom_id, Number(r.id));
        created.n += inserted.rows.length;
        await tx.query(
          `INSERT INTO ${s}.sync_mappings (entity_type, local_id, intercom_id, external_key, status, status_reason, merged_into,
                                           base_snapshot, base_hash, remote_updated_at, last_synced_at)
           SELECT 'contact', local_id, intercom_id, external_key, 'active', NULL, NULL, base_snapshot::jsonb, base_hash,
                  to_timestamp(remote_updated_at), now()
             FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::float8[])
                  AS t(local_id, intercom_id, external_key, base_snapshot, base_hash, remote_updated_at)`,
          [
            rows.map((r) => out.get(r.intercomId)),
            ids,
            rows.map((r) => r.externalKey),
            rows.map((r) => JSON.stringify(r.snapshot)),
            rows.map((r) => r.baseHash),
            rows.map((r) => r.remoteUpdatedAt),
          ],
        );
        return out;
      },
      async mappedIntercomIds(entity, ids) {
        if (ids.length === 0) return new Set();
        const { rows } = await tx.query<{ intercom_id: string }>(
          `SELECT intercom_id FROM ${s}.sync_mappings WHERE entity_type = $1 AND intercom_id = ANY($2::text[])`,
          [entity, ids],
        );
        return new Set(rows.map((r) => r.intercom_id));
      },
      async activeMappingIds(entity, ids) {
        if (ids.length === 0) return [];
        const { rows } = await tx.query<{ local_id: number; intercom_id: string }>(
          `SELECT local_id, intercom_id FROM ${s}.sync_mappings
            WHERE entity_type = $1 AND intercom_id = ANY($2::text[]) AND status = 'active' ORDER BY local_id`,
          [entity, ids],
        );
        return rows;
      },
      mappingsByIntercomIdsForUpdate: (entity, ids) => mappings.byIntercomIds(tx, entity, ids, true),
      async contactsByIds(ids) {
        if (ids.length === 0) return [];
        const { rows } = await tx.query<ContactRow>(
          `SELECT ${CONTACT_COLUMNS} FROM ${s}.contacts WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE`,
          [ids],
        );
        return rows;
      },
      async pendingOutboxLocalIds(entity, ids) {
        if (ids.length === 0) return new Set();
        const { rows } = await tx.query<{ local_id: string | number }>(
          `SELECT local_id FROM ${s}.sync_outbox
            WHERE entity_type = $1 AND local_id = ANY($2::bigint[]) AND related_id = 0 AND status = 'pending'`,
          [entity, ids],
        );
        return new Set(rows.map((r) => Number(r.local_id)));
      },
      async updateContacts(rows) {
        // One statement per set of changed fields (a page of remote edits has few: usually one or two shapes).
        const groups = new Map<string, { localId: number; patch: Record<string, unknown> }[]>();
        for (const r of rows) {
          const fields = Object.keys(r.patch).filter((f) => CONTACT_SNAPSHOT_COLUMNS.has(f)).sort();
          if (fields.length === 0) continue;
          const key = fields.join(',');
          groups.set(key, [...(groups.get(key) ?? []), { localId: r.localId, patch: r.patch }]);
        }
        for (const [key, group] of groups) {
          const fields = key.split(',');
          await tx.query(
            `UPDATE ${s}.contacts c SET ${fields.map((f) => `${f} = x.${f}`).join(', ')}
               FROM jsonb_to_recordset($1::jsonb) AS x(id bigint, ${fields.map((f) => `${f} ${CONTACT_COLUMN_TYPES[f]}`).join(', ')})
              WHERE c.id = x.id`,
            [JSON.stringify(group.map((g) => ({ id: g.localId, ...Object.fromEntries(fields.map((f) => [f, jsonColumnValue(f, g.patch[f])])) })))],
          );
        }
      },
      async refreshLinkedMappings(rows) {
        if (rows.length === 0) return;
        const localIds = rows.map((r) => r.localId);
        const ids = rows.map((r) => r.intercomId);
        const updatedAt = rows.map((r) => r.remoteUpdatedAt);
        // As upsertMapping: another data row still carrying one of these Intercom ids lets go first.
        await tx.query(
          `UPDATE ${s}.contacts c SET intercom_id = NULL FROM unnest($1::text[], $2::bigint[]) AS t(intercom_id, local_id)
            WHERE c.intercom_id = t.intercom_id AND c.id <> t.local_id`,
          [ids, localIds],
        );
        await tx.query(
          `UPDATE ${s}.sync_mappings m SET external_key = t.external_key, status = 'active', status_reason = NULL,
                  merged_into = NULL, base_snapshot = t.base_snapshot::jsonb, base_hash = t.base_hash,
                  remote_updated_at = t.remote_updated_at, last_synced_at = now(), updated_at = now()
             FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[])
                  AS t(local_id, intercom_id, external_key, base_snapshot, base_hash, remote_updated_at)
            WHERE m.entity_type = 'contact' AND m.local_id = t.local_id AND m.intercom_id = t.intercom_id`,
          [localIds, ids, rows.map((r) => r.externalKey), rows.map((r) => JSON.stringify(r.baseSnapshot)), rows.map((r) => r.baseHash), updatedAt],
        );
        await tx.query(
          `UPDATE ${s}.contacts c SET intercom_id = t.intercom_id, remote_updated_at = t.remote_updated_at
             FROM unnest($1::bigint[], $2::text[], $3::timestamptz[]) AS t(local_id, intercom_id, remote_updated_at)
            WHERE c.id = t.local_id
              AND (c.intercom_id IS DISTINCT FROM t.intercom_id OR c.remote_updated_at IS DISTINCT FROM t.remote_updated_at)`,
          [localIds, ids, updatedAt],
        );
      },
      async contactCompanyPairs(contactIds) {
        if (contactIds.length === 0) return [];
        const { rows } = await tx.query<{ contact_id: string | number; company_id: string | number }>(
          `SELECT contact_id, company_id FROM ${s}.contact_companies WHERE contact_id = ANY($1::bigint[]) ORDER BY contact_id, company_id`,
          [contactIds],
        );
        return rows.map((r) => ({ contactId: Number(r.contact_id), companyId: Number(r.company_id) }));
      },
      async pendingAssociationPairs(contactIds) {
        if (contactIds.length === 0) return [];
        const { rows } = await tx.query<{ local_id: string | number; related_id: string | number }>(
          `SELECT local_id, related_id FROM ${s}.sync_outbox
            WHERE entity_type = 'contact_company' AND local_id = ANY($1::bigint[]) AND status = 'pending'`,
          [contactIds],
        );
        return rows.map((r) => ({ contactId: Number(r.local_id), companyId: Number(r.related_id) }));
      },
      async detachMany(pairs) {
        if (pairs.length === 0) return;
        await tx.query(
          `DELETE FROM ${s}.contact_companies cc USING unnest($1::bigint[], $2::bigint[]) AS t(contact_id, company_id)
            WHERE cc.contact_id = t.contact_id AND cc.company_id = t.company_id`,
          [pairs.map((p) => p.contactId), pairs.map((p) => p.companyId)],
        );
      },
      async attachMany(pairs) {
        if (pairs.length === 0) return;
        await tx.query(
          `INSERT INTO ${s}.contact_companies (contact_id, company_id)
           SELECT * FROM unnest($1::bigint[], $2::bigint[]) ON CONFLICT DO NOTHING`,
          [pairs.map((p) => p.contactId), pairs.map((p) => p.companyId)],
        );
      },
      async savepoint(fn) {
        const name = `pull_row_${++savepointSeq}`;
        await tx.query(`SAVEPOINT ${name}`);
        try {
          const out = await fn();
          await tx.query(`RELEASE SAVEPOINT ${name}`);
          return out;
        } catch (err) {
          await tx.query(`ROLLBACK TO SAVEPOINT ${name}`);
          throw err;
        }
      },
      setStream: (stream, patch) => state.set(tx, stream, patch),
      async touchMappings(entity, ids) {
        if (ids.length === 0) return;
        await tx.query(
          // Rows written by this transaction already carry now(): rewriting them would only bloat the table.
          `UPDATE ${s}.sync_mappings SET last_synced_at = now()
            WHERE entity_type = $1 AND intercom_id = ANY($2::text[]) AND last_synced_at IS DISTINCT FROM now()`,
          [entity, ids],
        );
      },
    };
  };

  return {
    async applyTransaction(fn, opts = {}) {
      if (!opts.rollback) {
        const created = { n: 0 };
        const out = await withTransaction(pool, async (tx) => {
          await enterSyncApplyMode(tx);
          return fn(txPort(tx, created));
        });
        if (created.n > 0) await analyzeIfGrown(created.n);
        return out;
      }
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await enterSyncApplyMode(client);
        return await fn(txPort(client));
      } finally {
        await client.query('ROLLBACK').catch(() => undefined);
        client.release();
      }
    },
    mappingsByIntercomIds: (entity, ids) => mappings.byIntercomIds(pool, entity, ids),
    async activeLeadMappingsByEmails(emails) {
      if (emails.length === 0) return [];
      const { rows } = await pool.query<MappingRow>(
        `SELECT ${MAPPING_COLUMNS} FROM ${s}.sync_mappings
          WHERE entity_type = 'contact' AND status = 'active' AND intercom_id IS NOT NULL
            AND base_snapshot ->> 'role' = 'lead' AND lower(base_snapshot ->> 'email') = ANY($1::text[])`,
        [emails.map((e) => e.toLowerCase())],
      );
      return rows.map((r) => toLinkedMapping('contact', r));
    },
    async countContactsPulledBetween(from, to) {
      const { rows } = await pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${s}.sync_mappings
          WHERE entity_type = 'contact' AND status = 'active' AND intercom_id IS NOT NULL
            AND remote_updated_at >= $1 AND remote_updated_at < $2`,
        [from, to],
      );
      return rows[0]?.n ?? 0;
    },
    async staleActiveMappings(entity, since, limit) {
      const { rows } = await pool.query<MappingRow>(
        `SELECT ${MAPPING_COLUMNS} FROM ${s}.sync_mappings
          WHERE entity_type = $1 AND status = 'active' AND intercom_id IS NOT NULL
            AND (last_synced_at IS NULL OR last_synced_at < $2)
          ORDER BY local_id LIMIT $3`,
        [entity, since, limit],
      );
      return rows.map((r) => toLinkedMapping(entity, r));
    },
    getStream: (stream) => state.get(pool, stream),
    listStreams: (prefix) => state.list(pool, prefix),
    deleteStreams: (prefix) => state.deleteWithPrefix(pool, prefix),
    setStream: (stream, patch) => state.set(pool, stream, patch),
    tryAdvisoryLock: (name) => tryAdvisoryLock(pool, `${schema}:${name}`),
  };
}
