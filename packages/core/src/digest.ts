import { DistillationError } from './errors';

/**
 * SHA-256 of streamed content, the one digest kd's fingerprints and store keys use.
 *
 * In Node (and runtimes with `process.getBuiltinModule`) it is `node:crypto`'s incremental hash:
 * weights and data larger than one buffer are hashed piece by piece, never copied. Elsewhere (the
 * browser) it is WebCrypto's `crypto.subtle.digest`, which is not incremental: the pieces are
 * copied and hashed as one buffer when {@link ContentDigest.hex} is called. Both give the same
 * hex for the same pieces, so a key computed in Node is the key a browser computes.
 */
export interface ContentDigest {
  /** Adds text (as UTF-8) or the bytes of a typed array (its view, not the whole buffer). */
  update(piece: string | ArrayBufferView): this;
  /** Lowercase hex SHA-256 of every piece so far. Call it once: the digest is finished afterwards. */
  hex(): Promise<string>;
}

interface NodeHash {
  update(data: string | Uint8Array): NodeHash;
  digest(encoding: 'hex'): string;
}
interface NodeCrypto {
  createHash(algorithm: 'sha256'): NodeHash;
}

/** `node:crypto` without an import statement (so browser bundles never see it). */
function nodeCrypto(): NodeCrypto | undefined {
  const process = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  return process?.getBuiltinModule?.('node:crypto') as NodeCrypto | undefined;
}

const bytesOf = (piece: string | ArrayBufferView): Uint8Array =>
  typeof piece === 'string' ? new TextEncoder().encode(piece) : new Uint8Array(piece.buffer, piece.byteOffset, piece.byteLength);

const hexOf = (bytes: ArrayBuffer): string => Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('');

/** A new {@link ContentDigest} (SHA-256). */
export function sha256Digest(): ContentDigest {
  const node = nodeCrypto();
  if (node) {
    const hash = node.createHash('sha256');
    return {
      update(piece) {
        hash.update(typeof piece === 'string' ? piece : bytesOf(piece));
        return this;
      },
      async hex() {
        return hash.digest('hex');
      },
    };
  }
  const pieces: Uint8Array[] = [];
  return {
    update(piece) {
      pieces.push(bytesOf(piece).slice());
      return this;
    },
    async hex() {
      const all = new Uint8Array(pieces.reduce((a, p) => a + p.length, 0));
      let at = 0;
      for (const p of pieces) {
        all.set(p, at);
        at += p.length;
      }
      pieces.length = 0;
      const subtle = globalThis.crypto?.subtle;
      if (!subtle) {
        throw new DistillationError(
          'digest-unavailable',
          'sha256Digest: this runtime has neither node:crypto nor WebCrypto (crypto.subtle); browsers offer WebCrypto in secure contexts only (https, or http on localhost)',
        );
      }
      return hexOf(await subtle.digest('SHA-256', all));
    },
  };
}
