/**
 * The pull engine's store: the SQL behind src/sync/pull/ports.ts. Every data-table write happens inside
 * applyTransaction, which enters sync-apply mode first so pulled changes never reach the outbox.
 */
import type pg from 'pg';
import { tryAdvisoryLock } from '../advisory-lock.ts';
import { ident } from '../migrate.ts';
import { SYNC_APPLY_MODE_SQL, type Tx } from '../transaction.ts';
import { auditColumns, auditInsertSql, auditQueries } from './audit.ts';
import { mappingQueries, toLinkedMapping } from './mappings.ts';
import { COMPANY_COLUMNS, CONTACT_COLUMNS, MAPPING_COLUMNS, type CompanyRow, type ContactRow, type MappingRow, type WriteDoubtRow } from '../rows.ts';
import {
  COMPANY_SNAPSHOT_COLUMNS,
  CONTACT_COLUMN_TYPES,
  CONTACT_SNAPSHOT_COLUMNS,
  DATA_ROW_TYPES,
  dataRowJson,
  jsonColumnValue,
  localRowQueries,
} from './local-rows.ts';
import { OUTBOX_CHANNEL } from '../listen.ts';
import { syncStateQueries } from './sync-state.ts';
import { toWriteDoubt, writeDoubtQueries, writeDoubtsSelect } from './write-doubts.ts';
import type { ApplyTx, PullStorePort } from '../../sync/pull/ports.ts';
import type { ContactSnapshot } from '../../contract/snapshot.ts';


/**
 * The keys (an external_id, or a lower-cased email) carried by a contact create of ours still in doubt: from before the
 * POST is sent until its finish records the mapping, in the same commit that settles the doubt. A contact Intercom
 * holds under one of these keys is ours, being linked by the push, whatever the local rows say meanwhile.
 * `externalIds` and `emails` are SQL text[] expressions.
 */
function createsInDoubtSql(s: string, externalIds: string, emails: string): string {
  return `SELECT fields->>'external_id' AS k FROM ${s}.sync_write_doubts
           WHERE entity_type = 'contact' AND op = 'create' AND fields->>'external_id' = ANY(${externalIds})
          UNION
          SELECT lower(fields->>'email') FROM ${s}.sync_write_doubts
           WHERE entity_type = 'contact' AND op = 'create' AND lower(fields->>'email') = ANY(${emails})`;
}
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

  const txPort = (tx: pg.PoolClient, clockOffsetMs: number, created = { n: 0 }): ApplyTx => {
    // Only data rows are read through it: their custom_attributes need DATA_ROW_TYPES.
    const one = async <T extends pg.QueryResultRow>(text: string, values: unknown[]): Promise<T | null> =>
      (await tx.query<T>({ text, values, types: DATA_ROW_TYPES })).rows[0] ?? null;
    return {
      // The offset was measured when the transaction began (beginApply), a few milliseconds ago at most: asking the
      // server again would cost every page one more round trip for the same answer.
      clock: () => Promise.resolve(new Date(Date.now() + clockOffsetMs)),
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
        const { rows } = await tx.query<ContactRow>({
          text: `SELECT ${CONTACT_COLUMNS} FROM ${s}.contacts c
                  WHERE lower(c.email) = lower($1) AND c.external_id IS NULL AND c.deleted_at IS NULL
                    AND NOT EXISTS (SELECT 1 FROM ${s}.sync_mappings m
                                     WHERE m.entity_type = 'contact' AND m.local_id = c.id AND m.intercom_id IS NOT NULL)
                  ORDER BY c.id FOR UPDATE`,
          values: [email],
          types: DATA_ROW_TYPES,
        });
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
      async pushedCreate(intercomId, key) {
        const r = await one<{ mapped: boolean; in_doubt: boolean }>(
          `SELECT EXISTS (SELECT 1 FROM ${s}.sync_mappings WHERE entity_type = 'contact' AND intercom_id = $1) AS mapped,
                  EXISTS (${createsInDoubtSql(s, 'ARRAY[$2]::text[]', 'ARRAY[lower($3)]::text[]')}) AS in_doubt`,
          [intercomId, key.externalId, key.externalId ? null : key.email],
        );
        return r?.mapped ? 'mapped' : r?.in_doubt ? 'in-doubt' : null;
      },
      async contactWritersInDoubt(intercomId, exceptLocalId, windowSeconds) {
        const { rows } = await tx.query<{ local_id: number }>(
          `SELECT DISTINCT local_id FROM ${s}.sync_write_doubts
            WHERE entity_type = 'contact' AND intercom_id = $1 AND local_id <> $2
              AND (op = 'archive' OR (op = 'update' AND sent_at >= now() - make_interval(secs => $3)))
            ORDER BY local_id`,
          [intercomId, exceptLocalId, windowSeconds],
        );
        return rows.map((r) => Number(r.local_id));
      },
      async settleWriteDoubts(ids) {
        if (ids.length === 0) return;
        await tx.query(`DELETE FROM ${s}.sync_write_doubts WHERE id = ANY($1::bigint[])`, [ids]);
      },
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
      async identifyUnmapped(q) {
        // One round trip of several statements: in READ COMMITTED each sees what committed before it ran, so the
        // external ids are checked after their locks are held and the mappings asked again after the email look-up.
        const keys = [...new Set(q.lockExternalIds)].sort();
        const results = await multi(tx, [
          `SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0)))
             FROM (SELECT k FROM unnest(${textArray(tx, keys.map((x) => `${schema}:contact:${x}`))}) WITH ORDINALITY AS u(k, n) ORDER BY n) ordered`,
          `SELECT external_id FROM ${s}.contacts WHERE external_id = ANY(${textArray(tx, keys)})`,
          `SELECT DISTINCT lower(c.email) AS email FROM ${s}.contacts c
            WHERE lower(c.email) = ANY(${textArray(tx, [...new Set(q.emails.map((e) => e.toLowerCase()))])})
              AND c.external_id IS NULL AND c.deleted_at IS NULL
              AND NOT EXISTS (SELECT 1 FROM ${s}.sync_mappings m
                               WHERE m.entity_type = 'contact' AND m.local_id = c.id AND m.intercom_id IS NOT NULL)`,
          // Before the mapping re-check: a push's finish settles its create doubt and writes its mapping in one commit.
          `${createsInDoubtSql(s, textArray(tx, keys), textArray(tx, [...new Set(q.emails.map((e) => e.toLowerCase()))]))}`,
          `SELECT intercom_id FROM ${s}.sync_mappings WHERE entity_type = 'contact' AND intercom_id = ANY(${textArray(tx, q.recheckIntercomIds)})`,
          `SELECT local_id, intercom_id FROM ${s}.sync_mappings
            WHERE entity_type = 'company' AND intercom_id = ANY(${textArray(tx, q.companyIntercomIds)}) AND status = 'active' ORDER BY local_id`,
          `SELECT intercom_id FROM ${s}.contacts WHERE intercom_id = ANY(${textArray(tx, q.intercomIds)})`,
        ]);
        const column = (i: number, c: string) => new Set(results[i]!.rows.map((r) => String(r[c])));
        return {
          heldExternalIds: column(1, 'external_id'),
          linkableEmails: column(2, 'email'),
          createsInDoubt: column(3, 'k'),
          mapped: column(4, 'intercom_id'),
          companies: results[5]!.rows.map((r) => ({ local_id: Number(r.local_id), intercom_id: String(r.intercom_id) })),
          carriedIntercomIds: column(6, 'intercom_id'),
        };
      },
      async createPulledContacts(w) {
        const out = new Map<string, number>();
        const rows = w.rows;
        if (rows.length === 0) return out;
        const ids = rows.map((r) => r.intercomId);
        if (w.releaseIntercomIds) {
          // As upsertMapping: whatever still claims these Intercom ids lets go first.
          await tx.query(`UPDATE ${s}.contacts SET intercom_id = NULL WHERE intercom_id = ANY($1::text[])`, [ids]);
          await tx.query(
            `UPDATE ${s}.sync_mappings SET intercom_id = NULL, status = CASE WHEN status = 'active' THEN 'merged' ELSE status END,
                    merged_into = coalesce(merged_into, intercom_id), updated_at = now()
              WHERE entity_type = 'contact' AND intercom_id = ANY($1::text[])`,
            [ids],
          );
        }
        const col = <K extends keyof ContactSnapshot>(k: K) => rows.map((r) => r.snapshot[k]);
        // One statement: the rows take their ids in page order, and the mappings, associations and audit rows find
        // them by Intercom id. Foreign keys are checked at the end of the statement, after every part has run.
        const inserted = await tx.query<{ id: number; intercom_id: string }>(
          `WITH t AS (
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::boolean[],
                                  $8::float8[], $9::float8[], $10::text[], $11::float8[], $12::text[], $13::float8[],
                                  $14::text[], $15::text[], $16::text[])
                    WITH ORDINALITY AS t(external_id, role, email, phone, name, owner_id, unsubscribed_from_emails,
                                         signed_up_at, last_seen_at, custom_attributes, remote_created_at, intercom_id,
                                         remote_updated_at, external_key, base_snapshot, base_hash, n)
           ), ins AS (
             INSERT INTO ${s}.contacts (external_id, role, email, phone, name, owner_id, unsubscribed_from_emails, signed_up_at,
                                        last_seen_at, custom_attributes, remote_created_at, intercom_id, remote_updated_at)
             SELECT external_id, role, email, phone, name, owner_id, unsubscribed_from_emails, to_timestamp(signed_up_at),
                    to_timestamp(last_seen_at), custom_attributes::jsonb, to_timestamp(remote_created_at), intercom_id,
                    to_timestamp(remote_updated_at)
               FROM t ORDER BY n
             RETURNING id, intercom_id
           ), m AS (
             INSERT INTO ${s}.sync_mappings (entity_type, local_id, intercom_id, external_key, status, status_reason, merged_into,
                                             base_snapshot, base_hash, remote_updated_at, last_synced_at)
             SELECT 'contact', ins.id, t.intercom_id, t.external_key, 'active', NULL, NULL, t.base_snapshot::jsonb, t.base_hash,
                    to_timestamp(t.remote_updated_at), now()
               FROM t JOIN ins ON ins.intercom_id = t.intercom_id ORDER BY t.n
           ), cc AS (
             INSERT INTO ${s}.contact_companies (contact_id, company_id)
             SELECT ins.id, p.company_id FROM unnest($17::text[], $18::bigint[]) AS p(intercom_id, company_id)
               JOIN ins ON ins.intercom_id = p.intercom_id
             ON CONFLICT DO NOTHING
           ), a AS (
             ${auditInsertSql(`${s}.audit_log`, 19, 'ins')}
           )
           SELECT id, intercom_id FROM ins`,
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
            rows.map((r) => r.externalKey),
            rows.map((r) => JSON.stringify(r.snapshot)),
            rows.map((r) => r.baseHash),
            w.attach.map((p) => p.intercomId),
            w.attach.map((p) => p.companyId),
            ...auditColumns(w.audits),
          ],
        );
        for (const r of inserted.rows) out.set(r.intercom_id, Number(r.id));
        created.n += inserted.rows.length;
        return out;
      },
      mappingsByIntercomIdsForUpdate: (entity, ids) => mappings.byIntercomIds(tx, entity, ids, true),
      async linkedContactsContext(q) {
        const localIds = bigintArray(q.links.map((l) => l.localId));
        const results = await multi(tx, [
          `SELECT ${CONTACT_COLUMNS} FROM ${s}.contacts WHERE id = ANY(${localIds}) ORDER BY id FOR UPDATE`,
          `SELECT local_id FROM ${s}.sync_outbox
            WHERE entity_type = 'contact' AND local_id = ANY(${localIds}) AND related_id = 0 AND status = 'pending'`,
          writeDoubtsSelect(schema, `'contact'`, localIds, String(Number(q.windowSeconds))),
          `SELECT contact_id, company_id FROM ${s}.contact_companies WHERE contact_id = ANY(${localIds}) ORDER BY contact_id, company_id`,
          `SELECT local_id, related_id FROM ${s}.sync_outbox
            WHERE entity_type = 'contact_company' AND local_id = ANY(${localIds}) AND status = 'pending'`,
          `SELECT local_id, intercom_id FROM ${s}.sync_mappings
            WHERE entity_type = 'company' AND intercom_id = ANY(${textArray(tx, q.companyIntercomIds)}) AND status = 'active' ORDER BY local_id`,
          `SELECT local_id, intercom_id FROM ${s}.sync_mappings
            WHERE entity_type = 'company' AND intercom_id IS NOT NULL
              AND local_id IN (SELECT company_id FROM ${s}.contact_companies WHERE contact_id = ANY(${localIds}))
            ORDER BY local_id`,
          `SELECT c.intercom_id FROM ${s}.contacts c
             JOIN unnest(${textArray(tx, q.links.map((l) => l.intercomId))}, ${localIds}) AS t(intercom_id, local_id)
               ON c.intercom_id = t.intercom_id AND c.id <> t.local_id`,
        ]);
        const pairs = (i: number, a: string, b: string) =>
          results[i]!.rows.map((r) => ({ contactId: Number(r[a]), companyId: Number(r[b]) }));
        const companies = (i: number) => results[i]!.rows.map((r) => ({ local_id: Number(r.local_id), intercom_id: String(r.intercom_id) }));
        return {
          contacts: results[0]!.rows as ContactRow[],
          pending: new Set(results[1]!.rows.map((r) => Number(r.local_id))),
          doubts: (results[2]!.rows as WriteDoubtRow[]).map(toWriteDoubt),
          pairs: pairs(3, 'contact_id', 'company_id'),
          pendingPairs: pairs(4, 'local_id', 'related_id'),
          companies: companies(5),
          currentCompanies: companies(6),
          strayIntercomIds: new Set(results[7]!.rows.map((r) => String(r.intercom_id))),
        };
      },
      async writeLinkedContacts(w) {
        if (w.rows.length === 0 && w.audits.length === 0) return;
        const localIds = w.rows.map((r) => r.mapping.localId);
        const ids = w.rows.map((r) => r.mapping.intercomId);
        const updatedAt = w.rows.map((r) => r.mapping.remoteUpdatedAt);
        if (w.releaseStrays) {
          // As upsertMapping: another data row still carrying one of these Intercom ids lets go first.
          await tx.query(
            `UPDATE ${s}.contacts c SET intercom_id = NULL FROM unnest($1::text[], $2::bigint[]) AS t(intercom_id, local_id)
              WHERE c.intercom_id = t.intercom_id AND c.id <> t.local_id`,
            [ids, localIds],
          );
        }
        const fields = Object.keys(CONTACT_COLUMN_TYPES);
        // Each row sets only the fields of its patch (`f` lists them), so one statement serves every shape of patch;
        // rows with nothing to change are left alone, as the per-record path leaves them.
        const x = w.rows.map((r) => {
          const patch = (r.patch ?? {}) as Record<string, unknown>;
          const f = Object.keys(patch).filter((k) => CONTACT_SNAPSHOT_COLUMNS.has(k));
          return {
            id: r.mapping.localId,
            f,
            intercom_id: r.mapping.intercomId,
            remote_updated_at: r.mapping.remoteUpdatedAt?.toISOString() ?? null,
            ...Object.fromEntries(f.map((k) => [k, jsonColumnValue(k, patch[k])])),
          };
        });
        await tx.query(
          `WITH c AS (
             UPDATE ${s}.contacts c
                SET ${fields.map((f) => `${f} = CASE WHEN '${f}' = ANY(x.f) THEN x.${f} ELSE c.${f} END`).join(', ')},
                    intercom_id = x.intercom_id, remote_updated_at = x.remote_updated_at
               FROM jsonb_to_recordset($1::jsonb)
                    AS x(id bigint, f text[], intercom_id text, remote_updated_at timestamptz,
                         ${fields.map((f) => `${f} ${CONTACT_COLUMN_TYPES[f]}`).join(', ')})
              WHERE c.id = x.id
                AND (cardinality(x.f) > 0 OR c.intercom_id IS DISTINCT FROM x.intercom_id
                     OR c.remote_updated_at IS DISTINCT FROM x.remote_updated_at)
           ), m AS (
             UPDATE ${s}.sync_mappings m SET external_key = t.external_key, status = 'active', status_reason = NULL,
                    merged_into = NULL, base_snapshot = t.base_snapshot::jsonb, base_hash = t.base_hash,
                    remote_updated_at = t.remote_updated_at, last_synced_at = now(), updated_at = now()
               FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[])
                    AS t(local_id, intercom_id, external_key, base_snapshot, base_hash, remote_updated_at)
              WHERE m.entity_type = 'contact' AND m.local_id = t.local_id AND m.intercom_id = t.intercom_id
           ), d AS (
             DELETE FROM ${s}.sync_write_doubts WHERE id = ANY($8::bigint[])
           ), att AS (
             INSERT INTO ${s}.contact_companies (contact_id, company_id)
             SELECT * FROM unnest($9::bigint[], $10::bigint[]) ON CONFLICT DO NOTHING
           ), det AS (
             DELETE FROM ${s}.contact_companies cc USING unnest($11::bigint[], $12::bigint[]) AS t(contact_id, company_id)
              WHERE cc.contact_id = t.contact_id AND cc.company_id = t.company_id
           ), a AS (
             ${auditInsertSql(`${s}.audit_log`, 13, null)}
           )
           SELECT 1`,
          [
            dataRowJson(x),
            localIds,
            ids,
            w.rows.map((r) => r.mapping.externalKey),
            w.rows.map((r) => JSON.stringify(r.mapping.baseSnapshot)),
            w.rows.map((r) => r.mapping.baseHash),
            updatedAt,
            [...w.settledDoubts],
            w.attach.map((p) => p.contactId),
            w.attach.map((p) => p.companyId),
            w.detach.map((p) => p.contactId),
            w.detach.map((p) => p.companyId),
            ...auditColumns(w.audits),
          ],
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
        const client = await pool.connect();
        let out: Awaited<ReturnType<typeof fn>>;
        try {
          out = await fn(txPort(client, await beginApply(client), created));
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw err;
        } finally {
          client.release();
        }
        if (created.n > 0) await analyzeIfGrown(created.n);
        return out;
      }
      const client = await pool.connect();
      try {
        return await fn(txPort(client, await beginApply(client)));
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

/**
 * BEGIN, sync-apply mode (transaction.ts enterSyncApplyMode: the change-capture triggers skip the outbox) and the
 * database's clock, in one round trip: a page's apply is a short run of statements, and on a busy machine each round
 * trip costs about as much as a statement's work. Returns the database clock minus ours, in ms.
 *
 * The commit does not wait for its WAL flush (synchronous_commit off, this transaction only): the flush was a
 * sixth of a page's time. What it risks is losing the last commits (at most about 3 × wal_writer_delay) if the
 * Postgres server itself crashes — never a torn or reordered one. A pull transaction commits its resume point
 * (sync_state) with its page, so such a loss takes both back together and the next run reads those pages again
 * from Intercom: the same as a pull stopped just before them.
 */
async function beginApply(client: Tx): Promise<number> {
  const results = await multi(client, ['BEGIN', SYNC_APPLY_MODE_SQL, 'SET LOCAL synchronous_commit = off', 'SELECT clock_timestamp() AS now']);
  const now = results[3]!.rows[0]?.now;
  if (!(now instanceof Date)) throw new Error('clock_timestamp() did not answer a timestamp');
  return now.getTime() - Date.now();
}

/**
 * Several statements in one round trip (the simple query protocol, which takes no parameters: values are inlined
 * with textArray and bigintArray). Postgres runs them in order, each on a fresh snapshot in READ COMMITTED.
 */
async function multi(client: Tx, statements: readonly string[]): Promise<pg.QueryResult<Record<string, unknown>>[]> {
  // node-postgres types query() as one result; a simple query of several statements resolves to one result per
  // statement (https://node-postgres.com/apis/client#clientquery, "multiple statements"), checked below.
  // Some statements read data rows, whose custom_attributes need DATA_ROW_TYPES; on any other jsonb (written by
  // JSON.stringify, so holding only numbers a double carries) it reads exactly as JSON.parse.
  const results = (await client.query({ text: statements.join(';\n'), types: DATA_ROW_TYPES })) as unknown as pg.QueryResult<
    Record<string, unknown>
  >[];
  if (!Array.isArray(results) || results.length !== statements.length) throw new Error(`expected ${statements.length} results`);
  return results;
}

/** A text[] literal, escaped by the driver (for multi). */
function textArray(client: Tx, values: readonly string[]): string {
  const elements = values.map((v) => `"${v.replace(/[\\"]/g, (c) => `\\${c}`)}"`);
  return `${client.escapeLiteral(`{${elements.join(',')}}`)}::text[]`;
}

/** A bigint[] literal of safe integers only (for multi). */
function bigintArray(values: readonly number[]): string {
  for (const v of values) if (!Number.isSafeInteger(v)) throw new Error(`not an integer id: ${v}`);
  return `'{${values.join(',')}}'::bigint[]`;
}
