// A tiny method + path-template router. Templates ('/contacts/{id}') double as the keys of stats
// and fault rules, so they are part of the simulator's documented surface.
export interface Match<H> {
  handler: H;
  template: string;
  params: Record<string, string>;
}

interface Route<H> {
  method: string;
  template: string;
  parts: string[];
  handler: H;
}

export class Router<H> {
  private routes: Route<H>[] = [];

  add(method: string, template: string, handler: H): this {
    this.routes.push({ method, template, parts: template.split('/').filter(Boolean), handler });
    // Literal segments beat parameters, so '/contacts/search' wins over '/contacts/{id}'.
    this.routes.sort((a, b) => score(b.parts) - score(a.parts));
    return this;
  }

  match(method: string, path: string): Match<H> | null {
    const segs = path.split('/').filter(Boolean);
    for (const r of this.routes) {
      if (r.method !== method || r.parts.length !== segs.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < segs.length && ok; i++) {
        const p = r.parts[i]!;
        if (p.startsWith('{') || p.startsWith(':')) {
          try {
            params[p.replace(/^[{:]|}$/g, '')] = decodeURIComponent(segs[i]!);
          } catch {
            ok = false;
          }
        } else ok = p === segs[i];
      }
      if (ok) return { handler: r.handler, template: r.template, params };
    }
    return null;
  }
}

function score(parts: string[]): number {
  return parts.reduce((s, p, i) => s + (p.startsWith('{') || p.startsWith(':') ? 0 : 2 ** (8 - Math.min(i, 8))), 0);
}
