// Recordings, clips and thumbnails in R2: key rules and the bulk operations the API needs.

/** Object keys the origin may write: under recordings/ or clips/, plain path segments only. */
export function isStorableKey(key: string): boolean {
  if (key.length > 300 || !/^(recordings|clips)\//.test(key)) return false;
  return key.split('/').every((part) => /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/.test(part));
}

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
