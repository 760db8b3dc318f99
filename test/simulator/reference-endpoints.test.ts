import { IntercomError } from 'intercom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../src/simulator/server.ts';
import { control, sdk, SpecValidator, start, expectLogValid, type Exchange } from './helpers.ts';

// The sync never calls GET /tags or /admins, but the simulator answers them: Singer's tap-intercom checks its token
// with GET /tags, and a 404 there stops it. The vendored description keeps their path items for this check.
const validator = new SpecValidator();
const log: Exchange[] = [];
let sim: RunningSimulator;
let client: ReturnType<typeof sdk>;

beforeAll(async () => {
  sim = await start({ seed: 3, seedContacts: 5 });
  client = sdk(sim, log);
});
afterAll(() => sim.close());
afterEach(() => expectLogValid(validator, log));

describe('reference-data endpoints of the 2.14 description', () => {
  it('lists and finds tags', async () => {
    const contact = (await control(sim, 'GET', '/contacts?external_id=ext-000001')).body.data[0].contact;
    await control(sim, 'POST', `/contacts/${contact.id}/tag`, { name: 'VIP' });
    await control(sim, 'POST', `/contacts/${contact.id}/tag`, { name: 'Churn risk' });
    const tags = await client.tags.list();
    expect(tags.type).toBe('list');
    expect(tags.data!.map((t) => t.name).sort()).toEqual(['Churn risk', 'VIP']);
    const vip = tags.data!.find((t) => t.name === 'VIP')!;
    expect(await client.tags.find({ tag_id: vip.id })).toMatchObject({ type: 'tag', id: vip.id, name: 'VIP' });
    const missing = await client.tags.find({ tag_id: '999999' }).then(
      () => null,
      (e: unknown) => e,
    );
    expect((missing as IntercomError).statusCode).toBe(404);
  });

  it('lists admins and finds the one behind the token', async () => {
    const admins = await client.admins.list();
    expect(admins.type).toBe('admin.list');
    expect(admins.admins).toHaveLength(1);
    const me = await client.admins.identify();
    expect(admins.admins![0]!.id).toBe(me!.id);
    const found = await client.admins.find({ admin_id: Number(me!.id) });
    expect(found?.email).toBe(me!.email);
    const missing = await client.admins.find({ admin_id: 1 }).then(
      () => null,
      (e: unknown) => e,
    );
    expect((missing as IntercomError).statusCode).toBe(404);
    expect(((missing as IntercomError).body as { errors: Array<{ code: string }> }).errors[0]!.code).toBe('admin_not_found');
  });
});
