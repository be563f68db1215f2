import { DistillationError } from './errors';

/**
 * A small, fast, seedable pseudo-random generator (sfc32) whose full state is four 32-bit
 * integers, so it can be checkpointed and resumed exactly.
 */
export class SeededRandom {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed = 0) {
    // splitmix32 spreads the seed over the state.
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /**
   * The generator of one purpose of a run, keyed by the run's seed, a purpose name and counters
   * (e.g. `keyed(seed, 'order', epoch)`, `keyed(seed, 'plugin:crd', step)`): counter-based, so
   * what one purpose draws never shifts another's, however far data is read ahead, and nothing
   * needs checkpointing: a resumed run derives the same generators again.
   */
  static keyed(seed: number, purpose: string, ...counters: readonly number[]): SeededRandom {
    let h = 0x811c9dc5;
    for (let i = 0; i < purpose.length; i++) h = Math.imul(h ^ purpose.charCodeAt(i), 0x01000193) >>> 0;
    const words = [seed >>> 0, Math.floor(seed / 4294967296) >>> 0, h, counters.length];
    for (const c of counters) {
      if (!Number.isInteger(c) || c < 0)
        throw new DistillationError('bad-option', `SeededRandom.keyed: counters must be integers >= 0, got ${c}`);
      words.push(c >>> 0, Math.floor(c / 4294967296) >>> 0);
    }
    const random = new SeededRandom(0);
    const state: number[] = [];
    for (let lane = 0; lane < 4; lane++) {
      let x = (0x9e3779b9 * (lane + 1)) >>> 0;
      for (const w of words) x = mix32((x ^ w) >>> 0);
      state.push(mix32((x + lane) >>> 0));
    }
    random.setState(state);
    for (let i = 0; i < 12; i++) random.nextUint32();
    return random;
  }

  /** Next integer in [0, 2^32). */
  nextUint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = (this.b ^ (this.b >>> 9)) >>> 0;
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** Uniform float in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0) {
      throw new DistillationError('bad-option', `SeededRandom.int: n must be a positive integer, got ${n}`);
    }
    return Math.floor(this.next() * n);
  }

  /** A random permutation of 0..n-1 (Fisher-Yates). */
  permutation(n: number): Int32Array {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = out[i]!;
      out[i] = out[j]!;
      out[j] = t;
    }
    return out;
  }

  /** A fresh 32-bit seed drawn from this generator (for tfjs ops that take a seed). */
  seed(): number {
    return this.nextUint32();
  }

  /** The full generator state, for checkpoints. */
  getState(): [number, number, number, number] {
    return [this.a, this.b, this.c, this.d];
  }

  /** Restores a state from {@link getState}. */
  setState(state: readonly number[]): void {
    if (state.length !== 4 || state.some((v) => !Number.isInteger(v) || v < 0 || v > 0xffffffff)) {
      throw new DistillationError('bad-checkpoint', `SeededRandom.setState: expected four uint32 values, got [${state.join(', ')}]`);
    }
    [this.a, this.b, this.c, this.d] = state as [number, number, number, number];
  }
}

/** A 32-bit finaliser (murmur3's fmix32): every input bit affects every output bit. */
function mix32(z: number): number {
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}
