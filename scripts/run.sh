#!/usr/bin/env bash
# Runs Kendrix Sync on its embedded defaults: the server on SQLite (./kendrix.db, created on
# first start) at http://127.0.0.1:8080, with a "Demo" tenant and a freshly registered
# "Demo site" client whose id, secret and enrollment string are printed. Ctrl-C stops it.
# Extra arguments go to `kendrix-server serve` (e.g. --bind 127.0.0.1:9090).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is missing: install Rust with rustup (https://rustup.rs), then run this again" >&2
  exit 1
fi
missing=()
for pkg in build-essential pkg-config; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

cargo build --release --locked -p kendrix-server
target="${CARGO_TARGET_DIR:-target}"
exec "$target/release/kendrix-server" serve --demo "$@"
