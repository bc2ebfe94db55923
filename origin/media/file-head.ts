// The first bytes of a media file, for probes that only need a segment's start (codec parameters).
import { open } from 'node:fs/promises';

export async function readHead(file: string, max: number): Promise<Uint8Array> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(max);
    const { bytesRead } = await fh.read(buf, 0, max, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}
