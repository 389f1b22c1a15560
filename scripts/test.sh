#!/usr/bin/env bash
# Runs every check and test of Kendrix Sync on a fresh Debian 12 machine or a warm one:
# installs what is missing (Rust components, cargo-nextest, tauri-driver, PostgreSQL, Node.js,
# the WebKitGTK, keychain and display packages), checks the UI (type check, lint, Vitest) and
# builds it, checks formatting and lints, builds every binary, then runs all tests — on SQLite
# and PostgreSQL, the agent with a real OS keychain, the desktop app over WebDriver — inside a
# private session (scripts/with-session.sh: D-Bus + gnome-keyring, Xvfb, dunst).
#
# PostgreSQL: uses the server on 127.0.0.1:5432 (user postgres); installs and starts one if
# none answers. Each test creates its own database and drops it; this script drops any the
# run left behind.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n== %s\n' "$*"; }
have() { command -v "$1" >/dev/null 2>&1; }

apt_install() {
  # Installs only the packages that are missing, so a warm machine does not run apt.
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ] && ! have sudo; then
    echo "missing Debian packages: ${missing[*]} (run as root or install them)" >&2
    exit 1
  fi
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
  say "installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
}

# --- Rust toolchain -------------------------------------------------------------------------
if ! have cargo; then
  echo "cargo is missing: install Rust with rustup (https://rustup.rs), then run this again" >&2
  exit 1
fi
apt_install build-essential pkg-config curl ca-certificates
# The agent's keychain (Secret Service), a private session to run it in, libfaketime (the
# clock-skew story shifts the agent's clock) and gdb (a run that never ends shows its stacks).
apt_install dbus gnome-keyring keyutils xvfb xauth dunst faketime gdb
# The desktop app (Tauri 2 on WebKitGTK) and its WebDriver for the end-to-end story.
apt_install libwebkit2gtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev webkit2gtk-driver
if have rustup; then
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
fi
if ! cargo nextest --version >/dev/null 2>&1; then
  say "installing cargo-nextest"
  cargo install cargo-nextest --locked
fi
if ! command -v tauri-driver >/dev/null 2>&1 && [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/tauri-driver" ]; then
  say "installing tauri-driver"
  cargo install tauri-driver --version '^2' --locked
fi

# --- Node.js for the UI ---------------------------------------------------------------------
node_ok() { command -v node >/dev/null 2>&1 && node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)'; }
if ! node_ok; then
  apt_install nodejs npm
  node_ok || { echo "Node.js >= 20.19 is needed for the UI (Vite 8); found $(node --version 2>/dev/null || echo none)" >&2; exit 1; }
fi

# --- PostgreSQL -----------------------------------------------------------------------------
PG_ADMIN_URL="${KENDRIX_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
pg_answers() { psql "$PG_ADMIN_URL" -Atqc 'select 1' >/dev/null 2>&1; }
if ! have psql || ! pg_answers; then
  apt_install postgresql postgresql-client
  if ! pg_answers; then
    say "starting PostgreSQL"
    version=$(ls /etc/postgresql | sort -V | tail -n1)
    pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || pg_ctlcluster "$version" main start || true
    for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -q && break; sleep 1; done
    if ! pg_answers; then
      # A fresh Debian cluster asks for a password on TCP: let local test connections in.
      hba="/etc/postgresql/$version/main/pg_hba.conf"
      if ! grep -q "kendrix-test" "$hba"; then
        sed -i '1i host all postgres 127.0.0.1/32 trust # kendrix-test' "$hba"
        pg_ctlcluster --skip-systemctl-redirect "$version" main reload 2>/dev/null || pg_ctlcluster "$version" main reload
      fi
    fi
  fi
  pg_answers || { echo "PostgreSQL does not answer at $PG_ADMIN_URL" >&2; exit 1; }
fi
export KENDRIX_TEST_PG_URL="$PG_ADMIN_URL"
drop_leftover_databases() {
  psql "$PG_ADMIN_URL" -Atqc "select datname from pg_database where datname like 'kxtest\_%'" 2>/dev/null |
    while read -r db; do psql "$PG_ADMIN_URL" -qc "drop database if exists \"$db\" with (force)" >/dev/null 2>&1 || true; done
}
trap drop_leftover_databases EXIT

# --- UI: install, type check, lint, unit tests, build (the app embeds ui/dist) ---------------
say "UI: npm ci, type check, lint, unit tests (Vitest), build"
(cd ui && npm ci --no-audit --no-fund && npm run typecheck && npm run lint && npm test && npm run build)

# --- Hygiene --------------------------------------------------------------------------------
say "cargo fmt --check"
cargo fmt --all -- --check
say "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

# --- Build and test -------------------------------------------------------------------------
say "building every binary (process tests run them)"
cargo build --workspace --bins --locked
say "building kendrix.exe and its test installer for Windows (scripts/windows.sh: mingw-w64, Wine, NSIS and the rustup target when missing)"
bash scripts/windows.sh
say "cargo clippy -D warnings for Windows (the agent's service, ACLs and inbox code is Windows-only)"
cargo clippy --locked --target x86_64-pc-windows-gnu -p kendrix-agent -p kendrix-engine -- -D warnings
say "tests: unit and story tests on SQLite and PostgreSQL, the agent with the real keychain (and kendrix.exe under Wine), the desktop app over WebDriver"
bash scripts/with-session.sh cargo nextest run --workspace --locked --no-fail-fast
say "fuzzing the HTTP API from its OpenAPI document (schemathesis, scripts/fuzz.sh)"
apt_install python3 python3-venv
bash scripts/fuzz.sh
