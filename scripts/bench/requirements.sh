#!/usr/bin/env bash
# What `npm run bench` needs beyond scripts/bootstrap.sh: Debian's wrk (HTTP load) and nginx (the HLS serving
# baseline). Installs them when absent; does nothing otherwise. nginx's own service is not started: the
# benchmark runs its own nginx on loopback with a generated config.
set -euo pipefail

need=()
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx)
[ ${#need[@]} -eq 0 ] && exit 0

echo "[bench] installing Debian packages: ${need[*]}" >&2
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo -n)
export DEBIAN_FRONTEND=noninteractive
# Keep the package scripts from starting nginx on port 80 (policy-rc.d exit 101 = "not allowed"), unless the
# machine already has a policy of its own.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo_cmd[@]}" tee "$policy" >/dev/null
  "${sudo_cmd[@]}" chmod +x "$policy"
  own_policy=1
fi
cleanup() { [ "$own_policy" -eq 1 ] && "${sudo_cmd[@]}" rm -f "$policy"; return 0; }
trap cleanup EXIT
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
