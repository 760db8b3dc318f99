import { Option, type Command } from 'commander';

interface RequeueFlags {
  entity?: 'contact' | 'company' | 'contact_company';
  id?: number[];
}

function localId(v: string, prev: number[] = []): number[] {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`--id must be a positive integer, got "${v}"`);
  return [...prev, n];
}

/**
 * Dead letters stay dead until an operator has fixed their cause (the data, an attribute in Intercom, the token);
 * this puts them back in the outbox so the running daemon, woken by NOTIFY, pushes them at once. It needs only the
 * database: requeueing never talks to Intercom.
 */
export function registerRequeueCommand(program: Command): void {
  program
    .command('requeue')
    .description('put dead outbox entries back in line after fixing their cause (all, or filtered)')
    .addOption(new Option('--entity <type>', 'only this entity type').choices(['contact', 'company', 'contact_company']))
    .option('--id <localId>', 'only this local id (repeatable)', localId)
    .action(async (flags: RequeueFlags) => {
      const [{ createPushStore }, { createCliContext }] = await Promise.all([import('../../db/queries/outbox.ts'), import('../context.ts')]);
      const ctx = await createCliContext();
      try {
        const store = createPushStore(ctx.database.pool, ctx.config.schema);
        const n = await store.requeueDead(
          { ...(flags.entity ? { entityType: flags.entity } : {}), ...(flags.id ? { localIds: flags.id } : {}) },
          null,
        );
        process.stdout.write(`requeued ${n} dead outbox entr${n === 1 ? 'y' : 'ies'}\n`);
      } finally {
        await ctx.close();
      }
    });
}
