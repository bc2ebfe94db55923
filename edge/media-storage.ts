// Session media, recordings, clips and thumbnails in R2: key rules, the layout of a session's durable media, and the
// bulk operations the API needs.

/** Object keys an origin may touch: under live/, recordings/ or clips/, plain path segments only. */
export function isStorableKey(key: string): boolean {
  if (key.length > 300 || !/^(live|recordings|clips|videos)\//.test(key)) return false;
  return key.split('/').every((part) => /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/.test(part));
}

export { durableSessionPrefix } from '../shared/durable-media.ts';

export async function deleteR2Prefix(bucket: R2Bucket, prefix: string): Promise<number> {
  let deleted = 0;
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix, cursor, limit: 1000 });
    if (page.objects.length) await bucket.delete(page.objects.map((o) => o.key));
    deleted += page.objects.length;
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return deleted;
}
