import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { FileCache } from '../../../origin/http/file-cache.ts';

const bytes = (n: number) => Buffer.alloc(n, 1);
const mtime = new Date(1_700_000_000_000);

describe('FileCache', () => {
  it('keeps segments until evicted, playlists and thumbnails only a quarter second', () => {
    const cache = new FileCache();
    cache.put('/m/s/source/seg_00001.ts', bytes(10), mtime, 1000);
    cache.put('/m/s/source/index.m3u8', bytes(5), mtime, 1000);
    cache.put('/m/s/thumbnail.jpg', bytes(5), mtime, 1000);
    expect(cache.fresh('/m/s/source/seg_00001.ts', 1_000_000)).toBeDefined();
    expect(cache.fresh('/m/s/source/index.m3u8', 1200)).toBeDefined();
    expect(cache.fresh('/m/s/source/index.m3u8', 1250)).toBeUndefined();
    expect(cache.fresh('/m/s/thumbnail.jpg', 1300)).toBeUndefined();
    expect(cache.size).toBe(10);
  });

  it('refuses files above the per-file limit and evicts the least recently used beyond the total', () => {
    const cache = new FileCache(100, 60);
    cache.put('/big.ts', bytes(61), mtime);
    expect(cache.fresh('/big.ts')).toBeUndefined();
    cache.put('/a.ts', bytes(40), mtime);
    cache.put('/b.ts', bytes(40), mtime);
    cache.fresh('/a.ts'); // a is now the most recently used
    cache.put('/c.ts', bytes(40), mtime);
    expect(cache.fresh('/b.ts')).toBeUndefined();
    expect(cache.fresh('/a.ts')).toBeDefined();
    expect(cache.fresh('/c.ts')).toBeDefined();
    expect(cache.size).toBe(80);
  });

  it('never holds more than its limit, whatever is put in', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 300 })), { maxLength: 200 }), (puts) => {
        const cache = new FileCache(500, 200);
        for (const [name, size] of puts) cache.put(`/f${name}.ts`, bytes(size), mtime);
        expect(cache.size).toBeLessThanOrEqual(500);
        expect(cache.size).toBeGreaterThanOrEqual(0);
      }),
    );
  });
});
