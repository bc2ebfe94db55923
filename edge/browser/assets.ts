// The browser assets the Worker carries (built by scripts/build-browser-assets.ts into ./generated/, git-ignored):
// where each is served, by its manifest name ('player.js', 'hls.js', 'dashboard.js', 'dashboard.css').
import { browserAssets } from './generated/manifest.ts';

export type BrowserAssetName = keyof typeof browserAssets;

export interface BrowserAsset {
  /** `/assets/{name}-{hash}.{ext}`: the hash changes with the content, so the URL can be cached forever */
  path: string;
  contentType: string;
  body: string;
  hash: string;
}

const byPath = new Map<string, BrowserAsset>(Object.values(browserAssets).map((asset: BrowserAsset) => [asset.path, asset]));

/** The URL path a page links to for one of the built assets. */
export const assetPath = (name: BrowserAssetName): string => browserAssets[name].path;

/** The asset served at this exact path (its current hash), or undefined. */
export const assetAt = (path: string): BrowserAsset | undefined => byPath.get(path);
