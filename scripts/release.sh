#!/usr/bin/env bash
# Builds the release .deb of the desktop app (with the server and the headless agent beside
# it in target/release): `tauri build --bundles deb` through the npm @tauri-apps/cli, which
# builds the UI first (beforeBuildCommand). Prints where the package is.
set -euo pipefail
cd "$(dirname "$0")/.."
(cd ui && npm ci --no-audit --no-fund --silent)
cargo build --release --locked -p kendrix-server -p kendrix-agent
ui/node_modules/.bin/tauri build --bundles deb -- --locked
target="${CARGO_TARGET_DIR:-target}"
ls -1 "$target"/release/bundle/deb/*.deb
