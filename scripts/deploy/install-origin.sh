#!/usr/bin/env bash
# Installs a Riverhead origin on this host from a copy of the repository (a checkout or a release tarball): the
# production npm packages only (`npm ci --omit=dev`: no tsx, no TypeScript, no wrangler in node_modules), the SRT
# addon (build-srt-addon.sh: cc against Node's headers), and the origin as JavaScript in origin/dist. Run it again
# after every update; then start the origin with `npm run origin:compiled` and the environment of origin.env.md.
#
# origin/dist comes with the copy when it was built beforehand (`npm run build:origin` where devDependencies are
# installed, e.g. in CI) and is newer than the sources; otherwise it is built here with the TypeScript version the
# lockfile pins, run through `npm exec` (kept in npm's cache, never in node_modules).
#
# Environment: NPM_FLAGS (extra flags for npm, e.g. "--offline" with a warm cache), SKIP_SRT=1 (no SRT addon; the
# origin must then run with SRT_PORT=0).
# Needs: Node >= 20.11 with its headers, npm, a C compiler (cc); Debian packages ffmpeg and libsrt-openssl-dev.
set -euo pipefail
cd "$(dirname "$0")/../.."
say() { printf '[install-origin] %s\n' "$*" >&2; }
read -r -a npm_flags <<< "${NPM_FLAGS:-}"

# `npm ci --omit=dev` empties node_modules of devDependencies: never in a development checkout by mistake.
if [ -f node_modules/.riverhead-lock-hash ] && [ "${ALLOW_DEV_CHECKOUT:-}" != "1" ]; then
  say "this looks like a development checkout (scripts/bootstrap.sh installed it): installing here would remove"
  say "tsx, vitest and wrangler. Copy the repository to the origin host (or set ALLOW_DEV_CHECKOUT=1)."
  exit 1
fi

node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 11) ? 0 : 1)' \
  || { say "Node >= 20.11 is required (found $(node --version))"; exit 1; }
command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1 || say "warning: ffmpeg/ffprobe not found; the origin needs them (apt-get install ffmpeg)"

say "npm packages: npm ci --omit=dev"
npm ci --omit=dev --no-audit --no-fund --prefer-offline --loglevel=error "${npm_flags[@]}"

if [ "${SKIP_SRT:-}" = "1" ]; then
  say "SRT addon skipped (SKIP_SRT=1): run the origin with SRT_PORT=0"
else
  bash scripts/deploy/build-srt-addon.sh
fi

main=origin/dist/origin/main.js
if [ -f "$main" ] && [ -z "$(find origin shared -name '*.ts' -not -path 'origin/dist/*' -newer "$main" -print -quit)" ]; then
  say "compiled origin up to date ($main)"
else
  ts_version=$(node -p 'require("./package-lock.json").packages["node_modules/typescript"].version')
  say "compiling the origin to JavaScript (typescript@$ts_version through npm exec)"
  rm -rf origin/dist
  npm exec --yes --prefer-offline "${npm_flags[@]}" --package="typescript@$ts_version" -- tsc -p origin/tsconfig.transpile.json
fi

# The compiled origin loads with what is installed: every import resolves, the SRT addon included.
node --input-type=module -e "
  await import('./origin/dist/origin/config.js');
  await import('./origin/dist/origin/http/hls-server.js');
  if (process.env.SKIP_SRT !== '1') (await import('./origin/dist/origin/srt/native.js')).loadSrtBinding();
"
say "done: start it with \`npm run origin:compiled\` (environment: scripts/deploy/origin.env.md)"
