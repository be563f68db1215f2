import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { withoutNodeCrypto } from '../test/helpers';
import { sha256Digest } from './digest';

describe('sha256Digest', () => {
  it('matches the FIPS 180-2 test vectors in Node and through WebCrypto', async () => {
    const vectors: [string, string][] = [
      ['', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
      ['abc', 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'],
      ['abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq', '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1'],
    ];
    for (const [text, hex] of vectors) {
      expect(await sha256Digest().update(text).hex()).toBe(hex);
      expect(await withoutNodeCrypto(() => sha256Digest().update(text).hex())).toBe(hex);
    }
  });

  it('hashes pieces as their concatenation, typed arrays by their own bytes (views, not whole buffers)', async () => {
    const buffer = new Float32Array([1, 2, 3, 4, 5, 6]);
    const view = buffer.subarray(2, 5);
    const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
    const expected = createHash('sha256').update('head\n').update(bytes).update('é').digest('hex');
    const digest = () => sha256Digest().update('head\n').update(view).update('é').hex();
    expect(await digest()).toBe(expected);
    const browser = await withoutNodeCrypto(async () => {
      const pending = sha256Digest().update('head\n').update(view);
      view[0] = 99; // the WebCrypto path copies each piece when it is given
      return pending.update('é').hex();
    });
    view[0] = 3;
    expect(browser).toBe(expected);
    expect(await digest()).not.toBe(await sha256Digest().update('head\n').update(buffer).update('é').hex());
  });

  it('says why when neither node:crypto nor WebCrypto exists (an insecure browser context)', async () => {
    const subtle = Object.getOwnPropertyDescriptor(globalThis, 'crypto');
    Object.defineProperty(globalThis, 'crypto', { value: {}, configurable: true });
    try {
      await expect(withoutNodeCrypto(() => sha256Digest().update('abc').hex())).rejects.toMatchObject({
        code: 'digest-unavailable',
        message: expect.stringContaining('secure contexts'),
      });
    } finally {
      Object.defineProperty(globalThis, 'crypto', subtle!);
    }
  });
});
