import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import formatsPlugin from 'ajv-formats';
import { IntercomClient } from 'intercom-client';
import { parse } from 'yaml';
import { expect } from 'vitest';
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../../src/simulator/server.ts';

// Intercom's 2.14 description, vendored in the repository (the part the simulator answers: see its README.md).
const SPEC = new URL('../fixtures/intercom-openapi/openapi-2.14-subset.yaml', import.meta.url);

interface Operation {
  method: string;
  template: string;
  regex: RegExp;
  params: number;
  responses: Record<string, { content?: Record<string, { schema?: unknown }> }>;
}

export interface Exchange {
  method: string;
  path: string;
  status: number;
  body: unknown;
}

/**
 * Points component refs at the registered document, and turns OpenAPI 3.0's `nullable` next to a
 * `$ref` (no `type`, which Ajv rejects) into an explicit `anyOf [..., null]` with the same meaning.
 */
function rewriteRefs(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(rewriteRefs);
  if (node && typeof node === 'object') {
    const out = Object.fromEntries(
      Object.entries(node).map(([k, v]) => [k, k === '$ref' && typeof v === 'string' ? `openapi${v}` : rewriteRefs(v)]),
    );
    if (out.nullable === true && out.type === undefined) {
      const { nullable: _n, ...rest } = out;
      return { anyOf: [rest, { type: 'null' }] };
    }
    return out;
  }
  return node;
}

export class SpecValidator {
  private readonly ajv: Ajv;
  private readonly ops: Operation[] = [];
  private readonly cache = new Map<unknown, ValidateFunction>();
  private readonly errorSchema: unknown;

  constructor() {
    const doc = rewriteRefs(parse(readFileSync(SPEC, 'utf8'))) as {
      paths: Record<string, Record<string, { responses: Operation['responses'] }>>;
      components: { schemas: Record<string, unknown> };
    };
    // strict: false because OpenAPI adds keywords JSON Schema does not know (example, x-tags, ...).
    this.ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false });
    const addFormats = ((formatsPlugin as unknown as { default?: typeof formatsPlugin }).default ?? formatsPlugin) as unknown as (
      a: Ajv,
    ) => void;
    addFormats(this.ajv);
    // Spec quirks (the spec's own examples): timestamps are declared `format: date-time` but are integers, and
    // summary urls are declared `format: uri` but are relative paths in Intercom's own examples. Both
    // formats are registered as "anything goes" so they do not fail real Intercom answers; uuid stays strict.
    this.ajv.addFormat('date-time', true);
    this.ajv.addFormat('uri', true);
    this.ajv.addSchema({ components: doc.components }, 'openapi');
    this.errorSchema = doc.components.schemas.error;
    for (const [template, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        const pattern = template.replace(/\{[^}]+\}/g, '[^/]+');
        this.ops.push({
          method: method.toUpperCase(),
          template,
          regex: new RegExp(`^${pattern}$`),
          params: (template.match(/\{/g) ?? []).length,
          responses: op.responses,
        });
      }
    }
    this.ops.sort((a, b) => a.params - b.params);
  }

  operation(method: string, path: string): Operation | undefined {
    return this.ops.find((o) => o.method === method && o.regex.test(path));
  }

  /** Returns a list of problems; empty means the body matches the declared schema. */
  check(x: Exchange): string[] {
    const op = this.operation(x.method, x.path);
    if (!op) return [`no operation in the spec for ${x.method} ${x.path}`];
    let schema = op.responses[String(x.status)]?.content?.['application/json']?.schema;
    // Undeclared error statuses (400, 404, 409, 429, 5xx) still use the generic error body (Intercom-OpenAPI descriptions/2.14, schema `error`).
    if (!schema && x.status >= 400) schema = this.errorSchema;
    if (!schema) return [`${x.method} ${op.template} has no declared ${x.status} response`];
    let validate = this.cache.get(schema);
    if (!validate) {
      validate = this.ajv.compile(schema as object);
      this.cache.set(schema, validate);
    }
    if (validate(x.body)) return [];
    return (validate.errors ?? []).map((e) => `${x.method} ${x.path} ${x.status}: ${e.instancePath} ${e.message}`);
  }
}

/** A fetch that records every exchange, handed to intercom-client through its `fetch` option. */
export function recordingFetch(log: Exchange[]): typeof fetch {
  return async (input, init) => {
    const res = await fetch(input, init);
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const text = await res.clone().text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // leave as text; the schema check will flag it
    }
    log.push({ method: (init?.method ?? 'GET').toUpperCase(), path: url.pathname, status: res.status, body });
    return res;
  };
}

export function sdk(sim: RunningSimulator, log?: Exchange[], token = sim.token): IntercomClient {
  return new IntercomClient({
    token,
    baseUrl: sim.url,
    maxRetries: 0,
    timeoutInSeconds: 10,
    ...(log ? { fetch: recordingFetch(log) } : {}),
  });
}

export async function start(opts: SimulatorOptions = {}): Promise<RunningSimulator> {
  return startSimulator({ port: 0, rateLimitPerMinute: 0, ...opts });
}

/** Plain HTTP against the simulator, for things the SDK hides (headers, control API). */
export async function call(
  sim: RunningSimulator,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = { Authorization: `Bearer ${sim.token}` },
): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(sim.url + path, {
    method,
    headers: { 'Content-Type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
}

export const control = (sim: RunningSimulator, method: string, path: string, body?: unknown) =>
  call(sim, method, `/__sim${path}`, body, {});

/** Validates and empties a log of exchanges: every recorded body must match the spec, and (by default) some were recorded. */
export function expectLogValid(validator: SpecValidator, log: Exchange[], { nonEmpty = true } = {}): void {
  const problems = log.flatMap((x) => validator.check(x));
  const count = log.length;
  log.length = 0;
  expect(problems).toEqual([]);
  if (nonEmpty) expect(count).toBeGreaterThan(0);
}
