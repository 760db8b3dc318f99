// mulberry32: tiny, fast and good enough for fixtures; determinism matters more than quality here.
export type Rng = () => number;

export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hex(n: number, width: number): string {
  return (n >>> 0).toString(16).padStart(width, '0').slice(-width);
}

/**
 * Mongo-like 24-hex ids: creation second, then a counter, then noise. The leading timestamp makes
 * ids roughly creation-ordered like Intercom's, and the counter keeps them unique.
 */
export class IdFactory {
  private counter = 0;
  constructor(private readonly rng: Rng) {}

  next(createdAtSeconds: number): string {
    this.counter += 1;
    return hex(createdAtSeconds, 8) + hex(this.counter, 8) + hex(Math.floor(this.rng() * 0xffffffff), 8);
  }
}
