import { ApiError, invalidParam } from './errors.ts';
import type { AttrType, DataAttribute } from './model.ts';

// Intercom does not publish these limits (neither the 2.14 spec nor the developer docs state them); these are the simulator's
// assumptions, documented in docs/simulator.md.
export const MAX_ATTRIBUTE_NAME = 190;
export const MAX_STRING_VALUE = 255;

type Model = 'contact' | 'company';

const STANDARD: Record<Model, Array<[string, AttrType, boolean]>> = {
  contact: [
    ['name', 'string', true],
    ['email', 'string', true],
    ['phone', 'string', true],
    ['external_id', 'string', true],
    ['role', 'string', true],
    ['owner_id', 'integer', true],
    ['signed_up_at', 'date', true],
    ['last_seen_at', 'date', true],
    ['unsubscribed_from_emails', 'boolean', true],
    ['created_at', 'date', false],
    ['updated_at', 'date', false],
  ],
  company: [
    ['name', 'string', true],
    ['company_id', 'string', false],
    ['plan', 'string', true],
    ['size', 'integer', true],
    ['website', 'string', true],
    ['industry', 'string', true],
    ['monthly_spend', 'integer', true],
    ['remote_created_at', 'date', true],
    ['created_at', 'date', false],
    ['updated_at', 'date', false],
  ],
};

// Spaces and underscores are allowed because the spec's own examples use them ("Mithril Shirt").
const NAME_RE = /^[\p{L}\p{N}\p{Sc} _-]+$/u;

export class AttributeRegistry {
  private attrs: DataAttribute[] = [];
  private nextId = 1;

  constructor(private readonly now: () => number) {
    for (const model of ['contact', 'company'] as const) {
      for (const [name, data_type, api_writable] of STANDARD[model]) {
        this.attrs.push({
          id: null,
          model,
          name,
          full_name: name,
          label: name.replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase()),
          description: `The ${name.replace(/_/g, ' ')}`,
          data_type,
          options: null,
          api_writable,
          messenger_writable: false,
          ui_writable: api_writable,
          custom: false,
          archived: false,
          created_at: 0,
          updated_at: 0,
        });
      }
    }
  }

  list(model: string | null, includeArchived: boolean): DataAttribute[] {
    return this.attrs.filter((a) => (model === null || a.model === model) && (includeArchived || !a.archived));
  }

  findCustom(model: Model, name: string): DataAttribute | undefined {
    return this.attrs.find((a) => a.custom && a.model === model && a.name === name && !a.archived);
  }

  create(body: Record<string, unknown>): DataAttribute {
    const { name, model, data_type, options, description, messenger_writable } = body;
    for (const key of Object.keys(body)) {
      if (!['name', 'model', 'data_type', 'options', 'description', 'messenger_writable'].includes(key)) {
        throw new ApiError(400, 'bad_request', `bad '${key}' parameter`);
      }
    }
    if (typeof name !== 'string' || name.trim() === '') throw invalidParam('Name is required', 'name');
    if (model !== 'contact' && model !== 'company') {
      throw invalidParam('The Data Attribute model field must be either contact or company', 'model');
    }
    const types = ['string', 'integer', 'float', 'boolean', 'date', 'datetime', 'options'];
    if (typeof data_type !== 'string' || !types.includes(data_type)) {
      throw invalidParam("Data Type isn't an option", 'data_type');
    }
    if (name.length > MAX_ATTRIBUTE_NAME) {
      throw invalidParam(`Attribute name is too long (maximum is ${MAX_ATTRIBUTE_NAME} characters)`, 'name');
    }
    if (!NAME_RE.test(name)) {
      throw invalidParam(
        'Your name for this attribute must only contain alphanumeric characters, currency symbols, and hyphens',
        'name',
      );
    }
    const clash = this.attrs.find((a) => a.name === name);
    if (clash) {
      throw invalidParam(
        `You already have '${name}' in your ${clash.model === 'contact' ? 'people' : 'company'} data. To save this as new ${model === 'contact' ? 'people' : 'company'} data, use a different name.`,
        'name',
      );
    }
    let opts: string[] | null = null;
    if (data_type === 'options') {
      if (!Array.isArray(options) || options.length < 2) {
        throw invalidParam('The list attribute must have at least two options', 'options');
      }
      opts = options.map((o) => String((o as { value?: unknown })?.value ?? o));
    }
    const now = this.now();
    const attr: DataAttribute = {
      id: this.nextId++,
      model,
      name,
      full_name: `custom_attributes.${name}`,
      label: name,
      description: typeof description === 'string' ? description : '',
      // 'datetime' is accepted on write and reads back as 'date'; a list reads back as a string.
      data_type: data_type === 'datetime' ? 'date' : data_type === 'options' ? 'string' : (data_type as AttrType),
      options: opts,
      api_writable: true,
      messenger_writable: messenger_writable === true,
      ui_writable: true,
      custom: true,
      archived: false,
      created_at: now,
      updated_at: now,
    };
    this.attrs.push(attr);
    return attr;
  }

  /** Checks every custom attribute of a write; returns the cleaned map. */
  validateValues(model: Model, values: unknown): Record<string, unknown> {
    if (values === null || values === undefined) return {};
    if (typeof values !== 'object' || Array.isArray(values)) {
      throw invalidParam('custom_attributes must be an object', 'custom_attributes');
    }
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(values as Record<string, unknown>)) {
      if (key.length > MAX_ATTRIBUTE_NAME) {
        throw invalidParam(`Custom attribute name '${key.slice(0, 40)}…' is too long`, `custom_attributes.${key}`);
      }
      const attr = this.findCustom(model, key);
      if (!attr) {
        throw invalidParam(`Custom attribute '${key}' does not exist`, `custom_attributes.${key}`);
      }
      if (value !== null) checkType(attr, key, value);
      out[key] = value;
    }
    return out;
  }
}

function checkType(attr: DataAttribute, key: string, value: unknown): void {
  const field = `custom_attributes.${key}`;
  const bad = () => invalidParam(`Custom attribute '${key}' must be of type ${attr.data_type}`, field);
  switch (attr.data_type) {
    case 'string':
      if (typeof value !== 'string') throw bad();
      if (value.length > MAX_STRING_VALUE) {
        throw invalidParam(`Custom attribute '${key}' is too long (maximum is ${MAX_STRING_VALUE} characters)`, field);
      }
      if (attr.options && !attr.options.includes(value)) {
        throw invalidParam(`Custom attribute '${key}' must be one of ${attr.options.join(', ')}`, field);
      }
      return;
    case 'integer':
    case 'date':
      if (typeof value !== 'number' || !Number.isInteger(value)) throw bad();
      return;
    case 'float':
      if (typeof value !== 'number' || !Number.isFinite(value)) throw bad();
      return;
    case 'boolean':
      if (typeof value !== 'boolean') throw bad();
      return;
  }
}
