/**
 * The values a write of ours sent, walked one by one (a field, or one custom attribute), and read or written at the
 * same place in a snapshot: what the pull's echo and landed-write rules (pull/echo.ts) and the push's held echoes
 * (push/contact-result.ts) compare against Intercom's copy.
 */
import type { WriteDoubt } from './push/ports.ts';

type Fields = Readonly<Record<string, unknown>>;

/**
 * One value a write of ours sent: a field, or one custom attribute (key set) — attributes are compared one by one,
 * since a write sends only the keys it changes.
 */
export interface SentValue<D> {
  doubt: D;
  field: string;
  key: string | null;
  value: unknown;
}

/** Every value these writes sent, in order: the one walk findEchoes, findLanded and the push's heldEchoes share. */
export function sentValues<D extends Pick<WriteDoubt, 'fields'>>(doubts: readonly D[]): SentValue<D>[] {
  const out: SentValue<D>[] = [];
  for (const doubt of doubts) {
    for (const [field, value] of Object.entries(doubt.fields)) {
      if (field !== 'custom_attributes') out.push({ doubt, field, key: null, value });
      else for (const [key, v] of Object.entries((value ?? {}) as Fields)) out.push({ doubt, field, key, value: v });
    }
  }
  return out;
}

/** The value a snapshot holds for a sent value's field or attribute. */
export function valueAt(snap: Fields | null, v: Pick<SentValue<unknown>, 'field' | 'key'>): unknown {
  const f = snap?.[v.field];
  return v.key === null ? f : ((f ?? {}) as Fields)[v.key];
}

/** Writes `value` at the field or attribute in `out` (a copy of a snapshot); an empty attribute is removed. */
export function setValueAt(out: Record<string, unknown>, v: Pick<SentValue<unknown>, 'field' | 'key'>, value: unknown): void {
  if (v.key === null) {
    out[v.field] = value;
    return;
  }
  const attrs = { ...((out[v.field] ?? {}) as Fields) };
  if (value === undefined || value === null) delete attrs[v.key];
  else attrs[v.key] = value;
  out[v.field] = attrs;
}

/** How audit `changes` name it: the field, or `custom_attributes.<key>`. */
export const changeName = (v: Pick<SentValue<unknown>, 'field' | 'key'>) => (v.key === null ? v.field : `${v.field}.${v.key}`);
