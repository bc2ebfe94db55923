#!/usr/bin/env bash
# Builds the SRT binding (origin/srt/native/srt_binding.c → build/Release/riverhead_srt.node) with the C toolchain
# against Node's own headers: no node-gyp, no devDependencies, so it runs after `npm ci --omit=dev` on an origin host.
# Needs cc, libsrt's headers (Debian: libsrt-openssl-dev) and Node's headers (node_api.h: Debian's nodejs ships them
# in /usr/include/node; elsewhere set NODE_HEADERS, e.g. the include/node folder of a nodejs.org tarball).
# Does nothing when the addon is newer than its source (--force rebuilds). The result is compiled in a scratch folder
# and moved into place, so an origin starting meanwhile never loads a half-written file.
set -euo pipefail
cd "$(dirname "$0")/../.."

native=origin/srt/native
addon=$native/build/Release/riverhead_srt.node
say() { printf '[build-srt-addon] %s\n' "$*" >&2; }

if [ "${1:-}" != "--force" ] && [ -f "$addon" ] && [ -z "$(find "$native" -maxdepth 1 -type f -name '*.c' -newer "$addon")" ]; then
  exit 0
fi

headers=${NODE_HEADERS:-}
if [ -z "$headers" ]; then
  node_prefix=$(dirname "$(dirname "$(command -v node)")")
  for candidate in "$node_prefix/include/node" /usr/include/node /usr/local/include/node; do
    if [ -f "$candidate/node_api.h" ]; then headers=$candidate; break; fi
  done
fi
if [ -z "$headers" ] || [ ! -f "$headers/node_api.h" ]; then
  say "Node's headers (node_api.h) not found: install Node with its headers (Debian: nodejs) or set NODE_HEADERS"
  exit 1
fi
if [ ! -f /usr/include/srt/srt.h ] && [ -z "${SRT_CFLAGS:-}" ]; then
  say "libsrt's headers (srt/srt.h) not found: apt-get install libsrt-openssl-dev (or set SRT_CFLAGS/SRT_LIBS)"
  exit 1
fi

say "building $addon (Node headers: $headers)"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# The flags node-gyp would use for this target (binding.gyp): C11, N-API 8, position-independent, a shared object
# whose napi_* symbols the node executable provides at load time.
# shellcheck disable=SC2086
${CC:-cc} -std=c11 -O2 -fPIC -pthread -Wall -Wextra -Wno-unused-parameter \
  -DNAPI_VERSION=8 -DBUILDING_NODE_EXTENSION -I"$headers" ${SRT_CFLAGS:-} \
  -shared -o "$scratch/riverhead_srt.node" "$native/srt_binding.c" \
  ${SRT_LIBS:--lsrt} -lcrypto -lpthread
mkdir -p "$(dirname "$addon")"
cp "$scratch/riverhead_srt.node" "$addon.tmp"
mv -f "$addon.tmp" "$addon"
