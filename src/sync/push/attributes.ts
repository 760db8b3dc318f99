/**
 * Intercom refuses custom attributes it has no data attribute for. The catalog is read once per model (one request,
 * and only when a body carries custom attributes), re-read when a name is missing from an old copy (someone may
 * have created it in Intercom since), and extended when AUTO_CREATE_ATTRIBUTES allows.
 */
import type { CustomAttributeValue } from '../../intercom/payloads.ts';
import { checkAttributesDefined, type AttributeLookup } from '../validate.ts';
import type { PushGatewayPort } from './ports.ts';

type Model = 'contact' | 'company';
type Known = { dataType: string; apiWritable: boolean; archived: boolean };

const REFRESH_AFTER_MS = 60_000;

export class AttributeCatalog {
  private readonly byModel = new Map<Model, { at: number; attrs: Map<string, Known> }>();
  private readonly loading = new Map<Model, Promise<Map<string, Known>>>();

  constructor(
    private readonly gateway: Pick<PushGatewayPort, 'listDataAttributes' | 'createDataAttribute'>,
    private readonly autoCreate: boolean,
  ) {}

  invalidate(): void {
    this.byModel.clear();
  }

  private async load(model: Model, force: boolean): Promise<Map<string, Known>> {
    const cached = this.byModel.get(model);
    if (cached && !force) return cached.attrs;
    const inFlight = this.loading.get(model);
    if (inFlight) return inFlight;
    const p = (async () => {
      try {
        const list = await this.gateway.listDataAttributes(model, 'push');
        const attrs = new Map<string, Known>();
        for (const a of list) {
          if (!a.custom) continue;
          attrs.set(a.name, { dataType: a.dataType, apiWritable: a.apiWritable, archived: a.archived });
        }
        this.byModel.set(model, { at: Date.now(), attrs });
        return attrs;
      } finally {
        this.loading.delete(model);
      }
    })();
    this.loading.set(model, p);
    return p;
  }

  /**
   * The custom attributes to send: checked against Intercom's definitions (throws the ValidationError naming the row
   * and field), missing ones created when allowed, and clears of attributes Intercom never had left out.
   */
  async prepare(
    model: Model,
    localId: number,
    attrs: Record<string, CustomAttributeValue>,
  ): Promise<Record<string, CustomAttributeValue>> {
    if (Object.keys(attrs).length === 0) return attrs;
    let catalog = await this.load(model, false);
    const fresh = () => Date.now() - (this.byModel.get(model)?.at ?? 0) < REFRESH_AFTER_MS;
    if (Object.keys(attrs).some((k) => !catalog.has(k) && attrs[k] !== null) && !fresh()) {
      catalog = await this.load(model, true);
    }
    const lookup: AttributeLookup = { get: (n) => catalog.get(n) };
    const verdict = checkAttributesDefined(model, localId, attrs, lookup, this.autoCreate);
    if ('error' in verdict) throw verdict.error;
    for (const m of verdict.missing) {
      try {
        await this.gateway.createDataAttribute({ name: m.name, model, dataType: m.dataType }, 'push');
      } catch (err) {
        // Another worker may have created it a moment ago; the re-read below decides.
        catalog = await this.load(model, true);
        if (!catalog.has(m.name)) throw err;
        continue;
      }
      catalog.set(m.name, { dataType: m.dataType, apiWritable: true, archived: false });
    }
    const out: Record<string, CustomAttributeValue> = {};
    for (const [k, v] of Object.entries(attrs)) {
      // defineProperty: an attribute named "__proto__" stays a key.
      if (v !== null || catalog.has(k)) Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
}
