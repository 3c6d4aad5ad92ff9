#!/usr/bin/env bash
# Install what the tests need on a fresh Debian machine of this kind, then layerscan itself.
# Idempotent: packages already present are not reinstalled.
set -euo pipefail
cd "$(dirname "$0")/.."
needed=()
for package in docker.io skopeo buildah busybox-static libmagic1; do
  dpkg -s "$package" >/dev/null 2>&1 || needed+=("$package")
done
if [ ${#needed[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "prepare.sh: installing ${needed[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${needed[@]}" >/dev/null
  else
    echo "prepare.sh: missing ${needed[*]} and cannot apt-get install them here" >&2
  fi
fi
python3 -m pip install -q -e '.[test]'
