// What the dashboard calls a stream: the name the person gave it (metadata `name`, or seed 000's `livestream_name`).
export const streamName = (stream: { streamId: string; metadata: Record<string, string> }): string =>
  stream.metadata.name ?? stream.metadata.livestream_name ?? stream.streamId;

/** Pure: "key=value" lines → a metadata map (blank lines skipped); throws on a line without "=". */
export function parseMetadata(text: string): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (!line) continue;
    const at = line.indexOf('=');
    if (at < 1) throw new Error(`metadata line ${index + 1} needs key=value`);
    metadata[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return metadata;
}
