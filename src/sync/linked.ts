import type { LinkedMapping, Mapping, MappingEntity } from '../db/queries/mappings.ts';

/** A mapping that carries an Intercom id (whatever its status): narrows to the type whose intercom_id is a string. */
export const isLinked = <E extends MappingEntity>(m: Mapping<E> | null | undefined): m is LinkedMapping<E> =>
  m !== null && m !== undefined && m.intercom_id !== null;
