#!/usr/bin/env bash
# Installs whatever is missing for `npm start` and `npm test`: npm packages, Debian's ffmpeg (and the
# GStreamer RTMP client the tests use as a second encoder), a self-signed TLS pair for local RTMPS, and the
# SRT binding (our N-API addon over libsrt, built by scripts/deploy/build-srt-addon.sh as an origin install does).
# Safe to run every time: each step checks first and does nothing when all is in place.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[bootstrap] %s\n' "$*" >&2; }

# 1. npm packages: install when node_modules is missing or older than the lockfile.
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f node_modules/.riverhead-lock-hash ] || [ "$(cat node_modules/.riverhead-lock-hash)" != "$lock_hash" ]; then
  say "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > node_modules/.riverhead-lock-hash
fi

# 2. Debian packages.
need=()
command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1 || need+=(ffmpeg)
command -v gst-launch-1.0 >/dev/null 2>&1 || need+=(gstreamer1.0-tools gstreamer1.0-plugins-bad)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# libsrt's headers and a C toolchain for the SRT binding (origin/srt/native).
[ -f /usr/include/srt/srt.h ] || need+=(libsrt-openssl-dev)
command -v cc >/dev/null 2>&1 && command -v make >/dev/null 2>&1 || need+=(gcc g++ make)
command -v python3 >/dev/null 2>&1 || need+=(python3)
command -v faketime >/dev/null 2>&1 || need+=(faketime)
command -v haproxy >/dev/null 2>&1 || need+=(haproxy)
# Headless Chromium plays HLS through MSE for the browser tests (dashboard, player, glass-to-glass).
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ -f /usr/lib/nginx/modules/ngx_rtmp_module.so ] && command -v nginx >/dev/null 2>&1 || need+=(nginx-light libnginx-mod-rtmp)
if [ ${#need[@]} -gt 0 ]; then
  say "installing Debian packages: ${need[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo -n)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# 3. A self-signed certificate for the local RTMPS listener.
tls_dir=.state/tls
if [ ! -f "$tls_dir/cert.pem" ] || [ ! -f "$tls_dir/key.pem" ]; then
  say "creating a self-signed TLS pair for local RTMPS in $tls_dir"
  mkdir -p "$tls_dir"
  openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 3650 \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$tls_dir/key.pem" -out "$tls_dir/cert.pem" >/dev/null 2>&1
fi

# 4. The SRT binding, built with the C toolchain against Node's headers when the addon is missing or older than its
#    source: the same script an origin host's install runs (scripts/deploy/install-origin.sh).
bash scripts/deploy/build-srt-addon.sh

# 5. The browser assets the Worker serves (embed player, dashboard, hls.js): edge/browser/generated/, git-ignored.
node --import tsx scripts/build-browser-assets.ts
