#!/usr/bin/env bash
# Idempotent set-up: installs the Debian packages odc needs (when missing), runs `npm ci` when the
# lockfile changed, and brings the addon and dist/ up to date (each build a no-op when current).
# LIBTORCH=/path/to/libtorch (a folder with include/ and lib/) builds against another libtorch,
# e.g. a pip-installed CUDA torch; Debian's libtorch-dev is then not required.
set -euo pipefail
cd "$(dirname "$0")/.."

# chromium: the browser tests of the report and the cluster browser (playwright-core drives it).
# libgloo-dev: Gloo's headers, for the c10d part of the addon (Debian's libtorch links libgloo).
# libjpeg62-turbo-dev: libjpeg-turbo, which the streamed batches' JPEG cropper (odc_image) links.
packages=(libopenblas0-pthread dataset-fashion-mnist build-essential python3 make g++ chromium libjpeg62-turbo-dev)
if [ -z "${LIBTORCH:-}" ]; then packages+=(libtorch-dev libgloo-dev); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# `npm ci` only when the lockfile (or Node) changed since the last one; the addon build it runs
# (scripts/build-addon.cjs, the package's install script) itself skips when the addon on disk was
# built from the same sources, and it is run here too for a change of the native sources alone.
stamp_file=node_modules/.odc-setup-stamp
stamp=$( (cat package-lock.json; node --version) | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp_file" ] || [ "$(cat "$stamp_file")" != "$stamp" ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund
  echo "$stamp" > "$stamp_file"
fi
node scripts/build-addon.cjs
# dist/ (what `npx odc` and the installed package run) is compiled again only when src/ changed.
node scripts/build-dist.cjs
