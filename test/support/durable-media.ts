// Reads a session's durable media in R2 the way an origin does: signed as the stack's origin, with the media grant the
// origin keeps in the session folder (durable-grant.json). Take the reader while the folder exists: the origin deletes
// the folder once the session's media is final in R2.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { EdgeClient } from '../../origin/edge-client.ts';
import { parseMediaPlaylist, type MediaPlaylist } from '../../origin/pipeline/playlists.ts';
import { durableSessionPrefix } from '../../shared/durable-media.ts';
import { waitFor, type Stack } from './stack.ts';

export interface DurableReader {
  prefix: string;
  /** an object's bytes, or null when R2 has none under the key (relative to the session prefix) */
  bytes(name: string): Promise<Uint8Array | null>;
  playlist(name: string): Promise<MediaPlaylist | null>;
}

export async function durableReader(
  stack: Pick<Stack, 'edgeUrl' | 'originId' | 'originSecret' | 'mediaDir'>,
  streamId: string,
  sessionId: string,
  origin: { originId: string; secret: string; mediaDir: string } = { originId: stack.originId, secret: stack.originSecret, mediaDir: stack.mediaDir },
): Promise<DurableReader> {
  const grantFile = path.join(origin.mediaDir, streamId, sessionId, 'durable-grant.json');
  await waitFor('the session media grant on the origin', async () => (existsSync(grantFile) ? true : undefined), 20_000);
  const { grant } = JSON.parse(await readFile(grantFile, 'utf8')) as { grant: string };
  const edge = new EdgeClient(stack.edgeUrl, { originId: origin.originId, secret: origin.secret });
  const prefix = durableSessionPrefix(streamId, sessionId);
  const bytes = (name: string) => edge.getMedia(prefix + name, grant);
  return {
    prefix,
    bytes,
    async playlist(name) {
      const body = await bytes(name);
      return body ? parseMediaPlaylist(Buffer.from(body).toString('utf8')) : null;
    },
  };
}
