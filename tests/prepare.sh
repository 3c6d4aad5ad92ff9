#!/usr/bin/env bash
# Install what the tests need on a fresh Debian machine of this kind, then layerscan itself.
# Idempotent: packages already present are not reinstalled.
set -euo pipefail
cd "$(dirname "$0")/.."
needed=()
for package in docker.io skopeo buildah busybox-static libmagic1 docker-registry apache2-utils chromium; do
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

# The SARIF checkers the report tests use: the official 2.1.0 schema (shipped by jest-sarif)
# and Microsoft's SARIF Multitool. Kept outside the clone, in a cache that later runs reuse.
sarif_tools="${LAYERSCAN_SARIF_TOOLS:-$HOME/.cache/layerscan-sarif}"
multitool="$sarif_tools/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool"
if [ ! -f "$multitool" ] || [ ! -f "$sarif_tools/node_modules/@microsoft/jest-sarif/package.json" ]; then
  if command -v npm >/dev/null; then
    echo "prepare.sh: installing the SARIF schema and Multitool into $sarif_tools"
    mkdir -p "$sarif_tools"
    npm install --silent --no-audit --no-fund --prefix "$sarif_tools" \
      @microsoft/jest-sarif@1.0.0-beta.0 @microsoft/sarif-multitool-linux@5.7.0 >/dev/null
  else
    echo "prepare.sh: npm is missing, the SARIF validation tests cannot run" >&2
  fi
fi
# npm may refuse to run the package's install script, which only marks the tool executable.
[ -f "$multitool" ] && chmod u+x "$multitool"
true
