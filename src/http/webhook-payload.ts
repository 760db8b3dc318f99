import { z } from 'zod';
import { excerpt } from '../log-excerpt.ts';

/**
 * The part of an Intercom notification we rely on. Everything else is ignored, so new fields and topics do not
 * break us: any contact or company topic, known or not, is only a hint to pull that entity by id.
 */
const idValue = z.union([z.string().min(1), z.number()]).transform(String);

const ref = z.looseObject({ id: idValue.optional() });

const notification = z.looseObject({
  type: z.literal('notification_event'),
  topic: z.string().min(1),
  data: z.looseObject({
    item: z.looseObject({
      type: z.string().min(1),
      id: idValue.optional(),
      // Link objects (contact_tag, contact_company, ...) carry the entities they link.
      contact: ref.optional().nullable(),
      user: ref.optional().nullable(),
      company: ref.optional().nullable(),
    }),
  }),
});

export interface WebhookTargets {
  topic: string;
  contactIds: string[];
  companyIds: string[];
  /** True for topics we do not sync (conversations, ping, ...). */
  ignored: boolean;
}

export class MalformedWebhookError extends Error {}

const CONTACT_ITEM_TYPES = new Set(['contact', 'user', 'lead']);

export function parseWebhook(body: Buffer): WebhookTargets {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw new MalformedWebhookError('body is not valid JSON');
  }
  const parsed = notification.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const where = first?.path.length ? first.path.join('.') : '(body)';
    throw new MalformedWebhookError(`not an Intercom notification: ${where}: ${first?.message ?? 'invalid'}`);
  }
  const { topic, data } = parsed.data;
  const item = data.item;
  const contactIds = new Set<string>();
  const companyIds = new Set<string>();
  if (item.id !== undefined) {
    if (CONTACT_ITEM_TYPES.has(item.type)) contactIds.add(item.id);
    else if (item.type === 'company') companyIds.add(item.id);
  }
  for (const c of [item.contact, item.user]) if (c?.id) contactIds.add(c.id);
  if (item.company?.id) companyIds.add(item.company.id);

  const contactTopic = /^(contact|user)\./.test(topic);
  const companyTopic = topic.startsWith('company.');
  if (!contactTopic && !companyTopic) return { topic, contactIds: [], companyIds: [], ignored: true };
  if (contactIds.size === 0 && companyIds.size === 0) {
    throw new MalformedWebhookError(`topic ${excerpt(topic)}: data.item names no contact or company id`);
  }
  return { topic, contactIds: [...contactIds], companyIds: [...companyIds], ignored: false };
}
