import { mulberry32, type Rng } from '../../src/simulator/prng.ts';

/**
 * A seeded random source for a test that picks random points (kill times, plans), printed so a failure replays:
 * `<NAME>_SEED=<n>` replays one, `<NAME>_SEED=random` explores a new one, and by default the suite runs `fallback`,
 * so `npm test` is deterministic.
 */
export function testSeed(name: string, fallback: number): { seed: number; random: Rng } {
  const variable = `${name}_SEED`;
  const given = process.env[variable];
  const seed = given === 'random' ? Math.floor(Math.random() * 2 ** 31) : given ? Number(given) : fallback;
  if (!Number.isInteger(seed)) throw new Error(`${variable} must be an integer or "random", got ${given}`);
  console.log(`[${name.toLowerCase()}] ${variable}=${seed}`);
  return { seed, random: mulberry32(seed) };
}
