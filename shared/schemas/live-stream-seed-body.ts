// Seed 001's create body, `{ playbackSettings: { accessPolicy }, inputMediaSettings: { metadata, reconnectWindow, … } }`,
// accepted beside the flat CreateLiveStreamRequest (the canonical one): code written against the seed's SDK examples
// works unchanged. Pure: the nested parts are checked here and folded into the flat body, which is then validated as
// any create body is. A field sent both ways must say the same thing, or the request is refused naming it.
import { z } from '@hono/zod-openapi';
import { AccessPolicy, MaxResolution, Metadata, ReconnectWindow } from './live-stream.ts';

export const SeedPlaybackSettings = z
  .object({ accessPolicy: AccessPolicy.optional().openapi({ description: 'the flat body\'s `accessPolicy`' }) })
  .strict()
  .openapi('SeedPlaybackSettings');

export const SeedInputMediaSettings = z
  .object({
    metadata: Metadata.optional(),
    reconnectWindow: ReconnectWindow.optional(),
    maxResolution: MaxResolution.optional(),
    mediaPolicy: AccessPolicy.optional().openapi({
      description: "the policy of the stream's recordings and clips: they follow the stream's, so it must equal accessPolicy",
    }),
    enableDvrMode: z.boolean().optional().openapi({ description: "true: playlistWindow 'dvr'; false: 'sliding'" }),
  })
  .strict()
  .openapi('SeedInputMediaSettings');

/** The nested shape, documented (not the request body's schema): its fields map onto the flat ones. */
export const SeedCreateLiveStreamRequest = z
  .object({ playbackSettings: SeedPlaybackSettings.optional(), inputMediaSettings: SeedInputMediaSettings.optional() })
  .openapi('SeedCreateLiveStreamRequest', {
    description:
      "Seed 001's create body, accepted beside the flat one (and mixable with it, when both say the same): " +
      'playbackSettings.accessPolicy → accessPolicy; inputMediaSettings.metadata, .reconnectWindow, .maxResolution → the ' +
      "same flat fields; .mediaPolicy → accessPolicy; .enableDvrMode → playlistWindow ('dvr' when true).",
    example: { playbackSettings: { accessPolicy: 'public' }, inputMediaSettings: { metadata: { livestream_name: 'fastpix_livestream' }, reconnectWindow: 60 } },
  });

type Folded = { ok: true; body: Record<string, unknown> } | { ok: false; errors: { field: string; message: string }[] };

/** Each nested field and the flat field it means, with how its value reads there. */
const SEED_FIELDS: { part: 'playbackSettings' | 'inputMediaSettings'; name: string; flat: string; value: (v: unknown) => unknown }[] = [
  { part: 'playbackSettings', name: 'accessPolicy', flat: 'accessPolicy', value: (v) => v },
  { part: 'inputMediaSettings', name: 'metadata', flat: 'metadata', value: (v) => v },
  { part: 'inputMediaSettings', name: 'reconnectWindow', flat: 'reconnectWindow', value: (v) => v },
  { part: 'inputMediaSettings', name: 'maxResolution', flat: 'maxResolution', value: (v) => v },
  { part: 'inputMediaSettings', name: 'mediaPolicy', flat: 'accessPolicy', value: (v) => v },
  { part: 'inputMediaSettings', name: 'enableDvrMode', flat: 'playlistWindow', value: (v) => (v ? 'dvr' : 'sliding') },
];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** JSON equality with object keys in any order (metadata sent both ways). */
function sameValue(a: unknown, b: unknown): boolean {
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => k in b && sameValue(a[k], b[k]));
  }
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => sameValue(v, b[i]));
  return a === b;
}

/** True when the body uses the seed's nested shape (either part). */
export const isSeedCreateBody = (body: unknown): body is Record<string, unknown> =>
  isObject(body) && ('playbackSettings' in body || 'inputMediaSettings' in body);

/**
 * The flat create body a seed-shaped one means. Errors name the nested field (`inputMediaSettings.reconnectWindow`):
 * a wrong value or unknown key in a nested part, or a value that conflicts with the same field sent flat (or with
 * the other nested field that means it, e.g. mediaPolicy against playbackSettings.accessPolicy).
 */
export function foldSeedCreateBody(body: Record<string, unknown>): Folded {
  const { playbackSettings, inputMediaSettings, ...flat } = body;
  const parsed = SeedCreateLiveStreamRequest.strict().safeParse({ playbackSettings, inputMediaSettings });
  if (!parsed.success) {
    return {
      ok: false,
      errors: parsed.error.issues.flatMap((issue) => {
        const base = issue.path.map(String).join('.');
        if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => ({ field: base ? `${base}.${key}` : key, message: 'unknown field' }));
        return [{ field: base || '(body)', message: issue.message }];
      }),
    };
  }
  const folded: Record<string, unknown> = { ...flat };
  const from: Record<string, string> = Object.fromEntries(Object.keys(flat).map((k) => [k, k]));
  const errors: { field: string; message: string }[] = [];
  for (const field of SEED_FIELDS) {
    const part = parsed.data[field.part] as Record<string, unknown> | undefined;
    if (part?.[field.name] === undefined) continue;
    const nestedName = `${field.part}.${field.name}`;
    const value = field.value(part[field.name]);
    if (field.flat in folded && !sameValue(folded[field.flat], value)) {
      errors.push({ field: nestedName, message: `conflicts with ${from[field.flat]} (both set ${field.flat}, to different values)` });
      continue;
    }
    folded[field.flat] = value;
    from[field.flat] ??= nestedName;
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, body: folded };
}
