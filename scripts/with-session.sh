#!/usr/bin/env bash
# Runs a command inside a private desktop-like session: a fresh kernel keyring, a D-Bus
# session bus, an unlocked Secret Service (gnome-keyring), a virtual display (Xvfb) and a
# notification daemon (dunst) — what the agent's keychain and the desktop app need on a
# machine without a desktop. Used by scripts/test.sh and scripts/run.sh.
#
#   bash scripts/with-session.sh <command> [args...]
set -euo pipefail

if [ "${KENDRIX_IN_SESSION:-}" != "1" ]; then
  export KENDRIX_IN_SESSION=1
  # keyctl gives gnome-keyring a kernel keyring of its own; dbus-run-session a bus.
  exec keyctl session - dbus-run-session -- bash "$0" "$@"
fi

cleanup() {
  [ -n "${XVFB_PID:-}" ] && kill "$XVFB_PID" 2>/dev/null || true
  [ -n "${DUNST_PID:-}" ] && kill "$DUNST_PID" 2>/dev/null || true
  [ -n "${GNOME_KEYRING_PID:-}" ] && kill "$GNOME_KEYRING_PID" 2>/dev/null || true
}
trap cleanup EXIT

if [ -z "${DISPLAY:-}" ] && command -v Xvfb >/dev/null; then
  display=:$((90 + RANDOM % 100))
  Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
  XVFB_PID=$!
  for _ in $(seq 1 50); do [ -e "/tmp/.X11-unix/X${display#:}" ] && break; sleep 0.1; done
  export DISPLAY=$display
fi

# A throwaway login keyring, unlocked with a random password, for this session only.
keyring_home=$(mktemp -d)
password=$(head -c 24 /dev/urandom | base64)
eval "$(printf %s "$password" | XDG_DATA_HOME="$keyring_home" gnome-keyring-daemon --unlock --components=secrets)"
export GNOME_KEYRING_CONTROL
# It takes the Secret Service's name on the bus a moment after it returns; a call before then
# would make the bus start another daemon (D-Bus activation) without the unlocked keyring.
# Wait for the name, and ask the bus who holds it (the daemon prints no pid; without one it
# would outlive the session).
secrets_owner() {
  dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus.GetConnectionUnixProcessID string:org.freedesktop.secrets 2>/dev/null |
    awk '/uint32/ {print $2}' || true
}
GNOME_KEYRING_PID=""
for _ in $(seq 1 100); do
  GNOME_KEYRING_PID=$(secrets_owner)
  [ -n "$GNOME_KEYRING_PID" ] && break
  sleep 0.1
done
if [ -z "$GNOME_KEYRING_PID" ]; then
  echo "gnome-keyring-daemon did not take the Secret Service's name within 10 s" >&2
  exit 1
fi

if command -v dunst >/dev/null && [ -n "${DISPLAY:-}" ]; then
  dunst >/dev/null 2>&1 &
  DUNST_PID=$!
fi

"$@"
