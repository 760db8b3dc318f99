/**
 * The push engine's store: the SQL behind src/sync/push/ports.ts. The outbox contract (docs/ARCHITECTURE.md): claim
 * with FOR UPDATE SKIP LOCKED under a lease, delete a done entry only if its version is still the claimed one (a
 * newer change stays pending), and never let a push result land over a base that pull moved meanwhile.
 */
import type pg from 'pg';
import { OUTBOX_CHANNEL } from '../listen.ts';
import { ident } from '../migrate.ts';
import { enterSyncApplyMode, withRetriedTransaction, withTransaction } from '../transaction.ts';
import { auditQueries, type AuditEntry } from './audit.ts';
import { COMPANY_PUSH_COLUMNS, CONTACT_SNAPSHOT_COLUMNS, DATA_ROW_TYPES, localRowQueries } from './local-rows.ts';
import { mappingQueries, toMapping } from './mappings.ts';
import { COMPANY_COLUMNS, CONTACT_COLUMNS, MAPPING_COLUMNS, columnList, type CompanyRow, type ContactRow, type MappingRow, type OutboxRow } from '../rows.ts';
import { syncOutbox } from '../schema.ts';
import { storedJson, storedText } from './stored-text.ts';
import { writeDoubtQueries } from './write-doubts.ts';
import type {
  FinishResult,
  FinishWrite,
  OutboxEntry,
  PlanRow,
  PushStorePort,
} from '../../sync/push/ports.ts';

const ENTRY_FIELDS = ['id', 'entity_type', 'local_id', 'related_id', 'op', 'changed_fields', 'version', 'attempts'] as const;
type EntryRow = Pick<OutboxRow, (typeof ENTRY_FIELDS)[number]>;
const ENTRY_COLS = columnList(syncOutbox, { only: ENTRY_FIELDS });

const toEntry = (r: EntryRow): OutboxEntry => ({
  id: r.id,
  entityType: r.entity_type,
  localId: r.local_id,
  relatedId: r.related_id,
  op: r.op,
  changedFields: r.changed_fields,
  version: r.version,
  attempts: r.attempts,
});

// Entities before their associations, so a batch links contacts and companies before it attaches them.
const ENTITY_ORDER: Record<OutboxEntry['entityType'], number> = { company: 0, contact: 1, contact_company: 2 };

export type PushStore = PushStorePort;

export function createPushStore(pool: pg.Pool, schema: string): PushStore {
  const s = ident(schema);
  const outbox = `${s}.sync_outbox`;
  const doubts = `${s}.sync_write_doubts`;
  const mappings = mappingQueries(schema);
  const audit = auditQueries(schema);
  const dataRows = localRowQueries(schema);

  const one = async <T extends pg.QueryResultRow>(
    db: Pick<pg.Pool | pg.PoolClient, 'query'>,
    sql: string,
    values: unknown[],
  ): Promise<T | null> => (await db.query<T>(sql, values)).rows[0] ?? null;

  async function releaseLease(db: Pick<pg.Pool | pg.PoolClient, 'query'>, entryId: number, workerId: string) {
    await db.query(
      `UPDATE ${outbox} SET locked_by = NULL, locked_until = NULL, next_attempt_at = now(), updated_at = now()
        WHERE id = $1 AND locked_by = $2`,
      [entryId, workerId],
    );
  }

  return {
    async claim(workerId, limit, leaseSeconds) {
      // An expired lease belongs to a worker that died (or stalled): its entries are fair game again.
      const { rows } = await pool.query<EntryRow>(
        `WITH due AS (
           SELECT id FROM ${outbox}
            WHERE status = 'pending' AND next_attempt_at <= now() AND (locked_until IS NULL OR locked_until < now())
            ORDER BY next_attempt_at, id
            LIMIT $1
            FOR UPDATE SKIP LOCKED)
         UPDATE ${outbox} o SET locked_by = $2, locked_until = now() + make_interval(secs => $3)
           FROM due WHERE o.id = due.id
         RETURNING ${columnList(syncOutbox, { only: ENTRY_FIELDS, alias: 'o' })}`,
        [limit, workerId, leaseSeconds],
      );
      return rows.map(toEntry).sort((a, b) => ENTITY_ORDER[a.entityType] - ENTITY_ORDER[b.entityType] || a.id - b.id);
    },

    contact: (id) => dataRows.contact(pool, id),
    company: (id) => dataRows.company(pool, id),
    async mapping(entity, localId) {
      return (await mappings.byLocalIds(pool, entity, [localId]))[0] ?? null;
    },
    async mappingByIntercomId(entity, intercomId) {
      return (await mappings.byIntercomIds(pool, entity, [intercomId]))[0] ?? null;
    },
    mappingsByExternalKey: (entity, externalKey) => mappings.byExternalKeys(pool, entity, [externalKey]),
    async associationExists(contactId, companyId) {
      const r = await pool.query(
        `SELECT 1 FROM ${s}.contact_companies WHERE contact_id = $1 AND company_id = $2`,
        [contactId, companyId],
      );
      return (r.rowCount ?? 0) > 0;
    },
    async hasPendingEntry(entity, localId) {
      const r = await pool.query(
        `SELECT 1 FROM ${outbox} WHERE entity_type = $1 AND local_id = $2 AND related_id = 0 AND status = 'pending'`,
        [entity, localId],
      );
      return (r.rowCount ?? 0) > 0;
    },

    async reservePendingMapping(entity, localId, externalKey) {
      // Committed on its own before the create is sent: after a crash, this row is the only trace that a create
      // may have reached Intercom.
      const inserted = await one<MappingRow>(
        pool,
        `INSERT INTO ${s}.sync_mappings (entity_type, local_id, external_key, status)
         VALUES ($1, $2, $3, 'pending')
         ON CONFLICT (entity_type, local_id) DO NOTHING
         RETURNING ${MAPPING_COLUMNS}`,
        [entity, localId, externalKey],
      );
      if (inserted) return { fresh: true, mapping: toMapping(entity, inserted) };
      const existing = (await mappings.byLocalIds(pool, entity, [localId]))[0];
      if (!existing) throw new Error(`mapping of ${entity} ${localId} vanished while reserving it`);
      if (existing.status !== 'pending' || existing.external_key !== externalKey) {
        // A mapping left without a link (deleted remotely, ambiguous and requeued) becomes a fresh reservation; its
        // old external key may also have changed locally.
        await pool.query(
          `UPDATE ${s}.sync_mappings SET status = 'pending', status_reason = NULL, intercom_id = NULL, external_key = $3,
                  updated_at = now()
            WHERE entity_type = $1 AND local_id = $2`,
          [entity, localId, externalKey],
        );
        return { fresh: existing.status !== 'pending', mapping: { ...existing, status: 'pending', external_key: externalKey } };
      }
      return { fresh: false, mapping: existing };
    },

    async setMappingStatus(entity, localId, status, reason) {
      await mappings.setStatus(pool, entity, localId, status, reason);
    },

    async recordWriteDoubt(d) {
      const r = await one<{ id: number }>(
        pool,
        `INSERT INTO ${doubts} (entity_type, local_id, intercom_id, op, fields) VALUES ($1, $2, $3, $4, $5::jsonb) RETURNING id`,
        [d.entityType, d.localId, d.intercomId, d.op, JSON.stringify(d.fields)],
      );
      return Number(r!.id);
    },

    async claimContact(d, windowSeconds, decide) {
      return withRetriedTransaction(pool, async (tx) => {
        // One lock per Intercom contact id, taken by every archive, delete and takeover decision: whichever records its
        // doubt first is seen by the other. (Its own namespace: an Intercom id may spell some external_id.)
        await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [`${schema}:intercom-contact:${d.intercomId}`]);
        // One statement, one snapshot: a takeover's finish commits its mapping and settles its doubts together, so the
        // two questions below cannot each miss half of it.
        const { rows } = await tx.query<{ kind: 'self' | 'held' | 'claimed' | 'removing'; local_id: number; live: boolean }>(
          `SELECT 'self' AS kind, c.id AS local_id, c.deleted_at IS NULL AS live FROM ${s}.contacts c WHERE c.id = $2
           UNION ALL
           SELECT 'held', m.local_id, true FROM ${s}.sync_mappings m JOIN ${s}.contacts c ON c.id = m.local_id AND c.deleted_at IS NULL
            WHERE m.entity_type = 'contact' AND m.intercom_id = $1 AND m.local_id <> $2
           UNION ALL
           SELECT 'claimed', w.local_id, true FROM ${doubts} w JOIN ${s}.contacts c ON c.id = w.local_id AND c.deleted_at IS NULL
            WHERE w.entity_type = 'contact' AND w.intercom_id = $1 AND w.local_id <> $2
              AND (w.op = 'archive' OR w.sent_at >= now() - make_interval(secs => $3))
           UNION ALL
           SELECT 'removing', w.local_id, false FROM ${doubts} w
            WHERE w.entity_type = 'contact' AND w.intercom_id = $1 AND w.local_id <> $2 AND w.op = 'archive'
              AND w.fields->>'archived' = 'true'
              AND EXISTS (SELECT 1 FROM ${outbox} o WHERE o.entity_type = 'contact' AND o.local_id = w.local_id
                            AND o.related_id = 0 AND o.status = 'pending')`,
          [d.intercomId, d.localId, windowSeconds],
        );
        const ids = (kind: string) => [...new Set(rows.filter((r) => r.kind === kind).map((r) => Number(r.local_id)))].sort((a, b) => a - b);
        const facts = {
          selfLive: rows.some((r) => r.kind === 'self' && r.live),
          heldBy: ids('held'),
          claimedBy: ids('claimed'),
          removingBy: ids('removing'),
        };
        if (!decide(facts)) return { facts, doubtId: null };
        const r = await one<{ id: number }>(
          tx,
          `INSERT INTO ${doubts} (entity_type, local_id, intercom_id, op, fields) VALUES ($1, $2, $3, $4, $5::jsonb) RETURNING id`,
          [d.entityType, d.localId, d.intercomId, d.op, JSON.stringify(d.fields)],
        );
        return { facts, doubtId: Number(r!.id) };
      });
    },

    async settleWriteDoubts(ids) {
      if (ids.length === 0) return;
      await pool.query(`DELETE FROM ${doubts} WHERE id = ANY($1::bigint[])`, [ids]);
    },

    writeDoubts: (entity, localId, windowSeconds) => writeDoubtQueries(schema).forEntity(pool, entity, localId, windowSeconds),

    async expireWriteDoubts(windowSeconds) {
      const r = await pool.query(
        `DELETE FROM ${doubts} WHERE op = 'update' AND sent_at < now() - make_interval(secs => $1)`,
        [windowSeconds],
      );
      return r.rowCount ?? 0;
    },

    async finish(entry, workerId, write: FinishWrite): Promise<FinishResult> {
      return withRetriedTransaction(pool, async (tx) => {
        const settled = write.settledDoubts ?? [];
        if (write.guard) {
          const m = await one<{ base_hash: string | null }>(
            tx,
            `SELECT base_hash FROM ${s}.sync_mappings WHERE entity_type = $1 AND local_id = $2 FOR UPDATE`,
            [write.guard.entity, write.guard.localId],
          );
          if ((m?.base_hash ?? null) !== write.expectBaseHash) {
            // A pull moved the base while the write was out, and nothing of its answer is recorded, though Intercom
            // applied it. Its update doubts stay: if Intercom applied our value after the edit the pull saw, the next
            // pull must take that value for our echo, not for a remote edit (chaos seed 10; src/sync/pull/echo.ts).
            // They expire with the doubt window like any other. An archive in doubt stays too: the re-diff of the
            // released entry either archives again (the row is still deleted) or undoes it (the row came back).
            if (settled.length > 0) await tx.query(`DELETE FROM ${doubts} WHERE id = ANY($1::bigint[]) AND op = 'create'`, [settled]);
            await releaseLease(tx, entry.id, workerId);
            return 'stale';
          }
        }
        // The answers are recorded below: these writes are no longer in doubt.
        if (settled.length > 0) await tx.query(`DELETE FROM ${doubts} WHERE id = ANY($1::bigint[])`, [settled]);
        await enterSyncApplyMode(tx);
        for (const m of write.mappings) await mappings.upsert(tx, m);
        const audits = [...write.audit];
        for (const p of write.localPatches) {
          if (p.entity === 'contact') {
            const row = await dataRows.contact(tx, p.localId, true);
            if (!row) continue;
            const patch = p.compute(row);
            await dataRows.patch(tx, 'contacts', p.localId, patch, CONTACT_SNAPSHOT_COLUMNS);
            if (p.audit && Object.keys(patch).length > 0) audits.push(p.audit(row, patch));
          } else {
            const row = await dataRows.company(tx, p.localId, true);
            if (!row) continue;
            const patch = p.compute(row);
            await dataRows.patch(tx, 'companies', p.localId, patch, COMPANY_PUSH_COLUMNS);
            if (p.audit && Object.keys(patch).length > 0) audits.push(p.audit(row, patch));
          }
        }
        await audit.insert(tx, audits);
        if (write.keepEntry) {
          // One step of several: recorded, and the entry runs again for the next one (no attempt counted).
          await tx.query(
            `UPDATE ${outbox} SET locked_by = NULL, locked_until = NULL,
                    next_attempt_at = now() + make_interval(secs => $3::double precision / 1000), updated_at = now()
              WHERE id = $1 AND locked_by = $2`,
            [entry.id, workerId, write.keepEntry.delayMs],
          );
          return 'done';
        }
        const del = await tx.query(`DELETE FROM ${outbox} WHERE id = $1 AND version = $2`, [entry.id, entry.version]);
        if ((del.rowCount ?? 0) > 0) return 'done';
        // A newer local change arrived while we worked: it stays pending and is re-diffed against the new base.
        await releaseLease(tx, entry.id, workerId);
        return 'superseded';
      });
    },

    async retryLater(entry, workerId, o) {
      await pool.query(
        `UPDATE ${outbox}
            SET locked_by = NULL, locked_until = NULL,
                next_attempt_at = now() + make_interval(secs => $3::double precision / 1000),
                attempts = attempts + $4, last_error = coalesce($5, last_error),
                last_error_details = coalesce($6::jsonb, last_error_details), updated_at = now()
          WHERE id = $1 AND (locked_by = $2 OR locked_by IS NULL)`,
        [entry.id, workerId, o.delayMs, o.countAttempt ? 1 : 0, storedText(o.error), storedJson(o.details)],
      );
    },

    async dead(entry, workerId, error, details, auditEntry: AuditEntry) {
      await withTransaction(pool, async (tx) => {
        await tx.query(
          `UPDATE ${outbox}
              SET status = 'dead', locked_by = NULL, locked_until = NULL, attempts = attempts + 1, last_error = $3,
                  last_error_details = $4::jsonb, updated_at = now()
            WHERE id = $1 AND (locked_by = $2 OR locked_by IS NULL)`,
          [entry.id, workerId, storedText(error), storedJson(details)],
        );
        await audit.insert(tx, [auditEntry]);
      });
    },

    async release(entries, workerId) {
      if (entries.length === 0) return;
      await pool.query(
        `UPDATE ${outbox} SET locked_by = NULL, locked_until = NULL WHERE id = ANY($1::bigint[]) AND locked_by = $2`,
        [entries.map((e) => e.id), workerId],
      );
    },

    async extendLeases(entries, workerId, leaseSeconds) {
      if (entries.length === 0) return;
      await pool.query(
        `UPDATE ${outbox} SET locked_until = now() + make_interval(secs => $3)
          WHERE id = ANY($1::bigint[]) AND locked_by = $2`,
        [entries.map((e) => e.id), workerId, leaseSeconds],
      );
    },

    async leaseHolders() {
      const { rows } = await pool.query<{ locked_by: string }>(
        `SELECT DISTINCT locked_by FROM ${outbox} WHERE status = 'pending' AND locked_until > now()`,
      );
      return rows.map((r) => r.locked_by);
    },

    async releaseWorkers(workerIds) {
      if (workerIds.length === 0) return 0;
      const r = await pool.query(
        `UPDATE ${outbox} SET locked_by = NULL, locked_until = NULL WHERE locked_by = ANY($1::text[])`,
        [workerIds],
      );
      return r.rowCount ?? 0;
    },

    async requeueDead(filter, runId) {
      return withTransaction(pool, async (tx) => {
        const where = [`d.status = 'dead'`];
        const values: unknown[] = [];
        if (filter.entityType) {
          values.push(filter.entityType);
          where.push(`d.entity_type = $${values.length}`);
        }
        if (filter.localIds) {
          values.push(filter.localIds);
          where.push(`d.local_id = ANY($${values.length}::bigint[])`);
        }
        const pendingTwin = `EXISTS (SELECT 1 FROM ${outbox} p WHERE p.status = 'pending' AND p.entity_type = d.entity_type
                               AND p.local_id = d.local_id AND p.related_id = d.related_id)`;
        // A newer change already pending covers the dead one: the push re-reads the row, so one entry is enough.
        const dropped = await tx.query<EntryRow>(
          `DELETE FROM ${outbox} d WHERE ${where.join(' AND ')} AND ${pendingTwin} RETURNING ${ENTRY_COLS}`,
          values,
        );
        const revived = await tx.query<EntryRow>(
          `UPDATE ${outbox} d SET status = 'pending', attempts = 0, next_attempt_at = now(), locked_by = NULL,
                  locked_until = NULL, last_error = NULL, last_error_details = NULL, updated_at = now()
            WHERE ${where.join(' AND ')} AND NOT ${pendingTwin}
            RETURNING ${ENTRY_COLS}`,
          values,
        );
        const all = [...dropped.rows, ...revived.rows];
        const contactIds = all.filter((r) => r.entity_type === 'contact').map((r) => r.local_id);
        const companyIds = all.filter((r) => r.entity_type === 'company').map((r) => r.local_id);
        // An operator requeues after fixing the cause; a refusal to guess (ambiguous) gets a fresh look as well.
        for (const [entity, ids] of [['contact', contactIds], ['company', companyIds]] as const) {
          if (ids.length === 0) continue;
          await tx.query(
            `UPDATE ${s}.sync_mappings
                SET status = CASE WHEN intercom_id IS NULL THEN 'pending' ELSE 'active' END, status_reason = NULL,
                    updated_at = now()
              WHERE entity_type = $1 AND local_id = ANY($2::bigint[]) AND status = 'ambiguous'`,
            [entity, ids],
          );
        }
        await audit.insert(
          tx,
          all.map((r) => ({
            runId,
            direction: 'push' as const,
            entityType: r.entity_type,
            localId: r.local_id,
            intercomId: null,
            externalKey: null,
            action: 'requeue',
            details: r.related_id ? { related_id: r.related_id } : null,
          })),
        );
        if (all.length > 0) await tx.query(`SELECT pg_notify($1, $2)`, [OUTBOX_CHANNEL, schema]);
        return all.length;
      });
    },

    async enqueueUnlinked(opts = {}) {
      return withTransaction(pool, async (tx) => {
        let n = 0;
        const unlinked = (entity: string, alias: string) =>
          `NOT EXISTS (SELECT 1 FROM ${s}.sync_mappings m WHERE m.entity_type = '${entity}' AND m.local_id = ${alias}.id
                         AND m.status NOT IN ('pending'))`;
        const conflict = `ON CONFLICT (entity_type, local_id, related_id) WHERE status = 'pending' DO NOTHING`;
        // Companies first, so a contact's association entries find their company queued.
        for (const [entity, table] of [['company', 'companies'], ['contact', 'contacts']] as const) {
          if (opts.entity !== undefined && opts.entity !== entity) continue;
          const r = await tx.query(
            `INSERT INTO ${outbox} (entity_type, local_id, related_id, op, changed_fields)
             SELECT '${entity}', c.id, 0, 'upsert', '{}' FROM ${s}.${table} c
              WHERE c.deleted_at IS NULL AND ${unlinked(entity, 'c')} ${conflict}`,
          );
          n += r.rowCount ?? 0;
        }
        if (opts.entity !== 'company') {
          // A contact that was never pushed has never had its companies attached either.
          const a = await tx.query(
            `INSERT INTO ${outbox} (entity_type, local_id, related_id, op, changed_fields)
             SELECT 'contact_company', cc.contact_id, cc.company_id, 'attach', '{}'
               FROM ${s}.contact_companies cc JOIN ${s}.contacts c ON c.id = cc.contact_id
              WHERE c.deleted_at IS NULL AND ${unlinked('contact', 'c')} ${conflict}`,
          );
          n += a.rowCount ?? 0;
        }
        if (n > 0) await tx.query(`SELECT pg_notify($1, $2)`, [OUTBOX_CHANNEL, schema]);
        return n;
      });
    },

    async planRows({ includeUnlinked, limit }) {
      const { rows } = await pool.query<EntryRow>(
        `SELECT ${ENTRY_COLS} FROM ${outbox} WHERE status = 'pending' ORDER BY id LIMIT $1`,
        [limit],
      );
      const out: PlanRow[] = [];
      for (const r of rows) {
        const e = toEntry(r);
        const isCompany = e.entityType === 'company';
        const local = e.entityType === 'contact_company' ? null : e.localId;
        out.push({
          entry: e,
          contact: local !== null && !isCompany ? await this.contact(local) : null,
          company: local !== null && isCompany ? await this.company(local) : null,
          mapping: local === null ? null : isCompany ? await this.mapping('company', local) : await this.mapping('contact', local),
        });
      }
      if (includeUnlinked) {
        const notQueued = (entity: string) =>
          `NOT EXISTS (SELECT 1 FROM ${outbox} o WHERE o.entity_type = '${entity}' AND o.local_id = x.id AND o.status = 'pending')
           AND NOT EXISTS (SELECT 1 FROM ${s}.sync_mappings m WHERE m.entity_type = '${entity}' AND m.local_id = x.id AND m.status <> 'pending')`;
        const contacts = await pool.query<ContactRow>({
          text: `SELECT ${CONTACT_COLUMNS} FROM ${s}.contacts x WHERE x.deleted_at IS NULL AND ${notQueued('contact')} ORDER BY id LIMIT $1`,
          values: [limit],
          types: DATA_ROW_TYPES,
        });
        for (const c of contacts.rows) out.push({ entry: null, contact: c, company: null, mapping: null });
        const companies = await pool.query<CompanyRow>({
          text: `SELECT ${COMPANY_COLUMNS} FROM ${s}.companies x WHERE x.deleted_at IS NULL AND ${notQueued('company')} ORDER BY id LIMIT $1`,
          values: [limit],
          types: DATA_ROW_TYPES,
        });
        for (const c of companies.rows) out.push({ entry: null, contact: null, company: c, mapping: null });
      }
      return out;
    },
  };
}
