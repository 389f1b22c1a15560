#!/usr/bin/env bash
# Builds the releases: the .deb of the desktop app (target/desktop-release/bundle/deb; the
# server and the headless agent in target/release) by `tauri build --bundles deb` through the npm @tauri-apps/cli,
# which builds the UI first (beforeBuildCommand); and for Windows (scripts/windows.sh
# release) the NSIS installer and a .zip of kendrix.exe and kendrix-desktop.exe. Prints where
# the packages are.
set -euo pipefail
cd "$(dirname "$0")/.."
(cd ui && npm ci --no-audit --no-fund --silent)
cargo build --release --locked -p kendrix-server -p kendrix-agent
# The desktop package is built small (profile.desktop-release: LTO, one codegen unit, -Os).
ui/node_modules/.bin/tauri build --bundles deb -- --locked --profile desktop-release
target="${CARGO_TARGET_DIR:-target}"
ls -1 "$target"/desktop-release/bundle/deb/*.deb
bash scripts/windows.sh release
