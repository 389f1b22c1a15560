#!/usr/bin/env bash
# Runs Kendrix Sync on its embedded defaults: the server on SQLite (./kendrix.db, created on
# first start) at http://127.0.0.1:8080 with a "Demo" tenant: a freshly registered "Demo
# site" (site scopes) and "Demo admin" (clients:admin …), beside the sites "Store 7" and
# "Warehouse" (behind, needing attention). The agent is enrolled as the site (secret in the
# OS keychain) and as the admin (`kendrix admin enroll`, its own keychain entry), with some
# sample records queued; then the desktop app (tray + window) when there is a display, else
# the headless agent `kendrix run`, watching ./.kendrix/inbox. Ctrl-C (or Quit in the tray)
# stops it all.
# Extra arguments go to `kendrix-server serve` (e.g. --bind 127.0.0.1:9090).
#
# Without a desktop session (no D-Bus session bus), the agent's keychain is a private
# gnome-keyring started for this run (scripts/with-session.sh); it lasts as long as the run,
# so the agent is enrolled afresh each time.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is missing: install Rust with rustup (https://rustup.rs), then run this again" >&2
  exit 1
fi
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
}

if [ "${KENDRIX_IN_SESSION:-}" != "1" ]; then
  apt_install build-essential pkg-config
  if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
    export KENDRIX_RUN_APP=1
    apt_install libwebkit2gtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev
    command -v npm >/dev/null || apt_install nodejs npm
    (cd ui && npm ci --no-audit --no-fund --silent && npm run build --silent)
    cargo build --release --locked -p kendrix-server -p kendrix-agent -p kendrix-desktop
  else
    cargo build --release --locked -p kendrix-server -p kendrix-agent
  fi
  if [ -z "${DBUS_SESSION_BUS_ADDRESS:-}" ]; then
    apt_install dbus gnome-keyring keyutils xvfb xauth dunst
    exec bash scripts/with-session.sh bash "$0" "$@"
  fi
fi

bin="${CARGO_TARGET_DIR:-target}/release"
state=.kendrix
mkdir -p "$state/inbox"
export KENDRIX_AGENT_DIR="${KENDRIX_AGENT_DIR:-$PWD/$state/agent}"

"$bin/kendrix-server" serve --demo "$@" > "$state/server.out" &
server=$!
agent=""
trap 'kill $server ${agent:+$agent} 2>/dev/null; wait 2>/dev/null' EXIT INT TERM
for _ in $(seq 1 100); do
  grep -q "^listening on" "$state/server.out" 2>/dev/null && break
  kill -0 $server 2>/dev/null || { cat "$state/server.out"; exit 1; }
  sleep 0.1
done
cat "$state/server.out"
# `serve --demo` prints "Demo site enrollment: kendrix1:…", then "Demo admin enrollment: …".
enrollment=$(grep '^Demo site enrollment: ' "$state/server.out" | grep -o 'kendrix1:[A-Za-z0-9_-]*' | head -n1)
admin_enrollment=$(grep '^Demo admin enrollment: ' "$state/server.out" | grep -o 'kendrix1:[A-Za-z0-9_-]*' | head -n1)

"$bin/kendrix" enroll "$enrollment"
"$bin/kendrix" admin enroll "$admin_enrollment"
if [ ! -e "$state/samples-queued" ]; then
  for i in $(seq 1 250); do
    printf '{"id":"demo-%04d","customer":"customer %d","total":%d.%02d}\n' "$i" $((i % 17)) $((i * 3)) $((i % 100))
  done | "$bin/kendrix" enqueue --entity orders
  touch "$state/samples-queued"
fi

if [ "${KENDRIX_RUN_APP:-}" = "1" ]; then
  echo
  echo "The desktop app starts, enrolled as the Demo site and signed in as the Demo admin; it syncs the sample records at once (Sync Now for more)."
  "$bin/kendrix-desktop" &
  agent=$!
  wait $agent
  exit 0
fi
cat <<EOF

No display: the headless agent runs instead of the desktop app. It syncs now and then on
the server's schedule (logs below). From another terminal:
  KENDRIX_AGENT_DIR=$KENDRIX_AGENT_DIR $bin/kendrix status      # all synced?
  KENDRIX_AGENT_DIR=$KENDRIX_AGENT_DIR $bin/kendrix admin sites # the Demo tenant's fleet
  drop NDJSON/JSON/CSV files named <entity>.<anything>.csv into $state/inbox
EOF
"$bin/kendrix" run --inbox "$state/inbox" &
agent=$!
wait $agent
