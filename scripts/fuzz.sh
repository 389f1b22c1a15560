#!/usr/bin/env bash
# Fuzzes the HTTP API from its own OpenAPI document with schemathesis: a real
# `kendrix-server serve --demo` on a fresh SQLite file and a free port, every operation sent
# generated requests with a token that may call it — the Demo site's (sync:write config:read)
# for the site's own calls (/sync/batches, /sync/versions, /sync/heartbeat), the Demo admin's
# (clients:admin config:* audit:read stats:read) for the rest — checking that nothing answers 5xx and every answer's status and
# body are the ones the document publishes. Bounded to about three minutes on two cores.
#
# Needs the server built (`cargo build -p kendrix-server`; scripts/test.sh does) and Python 3.
# schemathesis is installed into a venv under the cache dir when missing.
# Usage: scripts/fuzz.sh [extra schemathesis options, e.g. --max-examples 10 --seed 1]
#        KENDRIX_FUZZ_DATABASE_URL=postgres://postgres@127.0.0.1/kxfuzz scripts/fuzz.sh
set -euo pipefail
cd "$(dirname "$0")/.."

bin="${CARGO_TARGET_DIR:-target}/debug/kendrix-server"
[ -x "$bin" ] || { echo "$bin is missing: run cargo build -p kendrix-server first" >&2; exit 1; }

cache="${XDG_CACHE_HOME:-$HOME/.cache}/kendrix-fuzz"
venv="$cache/venv"
schemathesis_version=">=4.32,<5"
if [ ! -x "$venv/bin/schemathesis" ]; then
  echo "installing schemathesis into $venv"
  mkdir -p "$cache"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "schemathesis$schemathesis_version"
fi

work=$(mktemp -d)
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# Generous limits: the fuzzer is one caller sending thousands of requests, not an attack.
# KENDRIX_FUZZ_DATABASE_URL points the run at another (empty) database, e.g. a PostgreSQL one.
export KENDRIX_DATABASE_URL="${KENDRIX_FUZZ_DATABASE_URL:-sqlite://$work/fuzz.db}"
export KENDRIX_MASTER_KEY="AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="
export KENDRIX_RATE_LIMITS__API_PER_CLIENT_PER_MINUTE=1000000
export KENDRIX_RATE_LIMITS__TOKEN_PER_CLIENT_PER_MINUTE=1000000
export KENDRIX_RATE_LIMITS__TOKEN_PER_ADDRESS_PER_MINUTE=1000000
export KENDRIX_RATE_LIMITS__FAILED_AUTH_MAX=1000000
export KENDRIX_RATE_LIMITS__FAILED_AUTH_MAX_PER_ADDRESS=1000000
export KENDRIX_RATE_LIMITS__VERIFY_PER_CLIENT_PER_MINUTE=1000000
export NO_COLOR=1
"$bin" serve --demo --bind 127.0.0.1:0 > "$work/server.out" 2> "$work/server.log" &
server=$!
for _ in $(seq 1 100); do
  grep -q "^listening on" "$work/server.out" 2>/dev/null && break
  kill -0 "$server" 2>/dev/null || { cat "$work/server.out" "$work/server.log"; exit 1; }
  sleep 0.1
done
base=$(sed -n 's/^listening on //p' "$work/server.out")

# `serve --demo` prints each credential's enrollment string (base64url JSON with the secret).
token_of() {
  local enrollment
  enrollment=$(grep "^$1 enrollment: " "$work/server.out" | grep -o 'kendrix1:[A-Za-z0-9_-]*')
  python3 - "$enrollment" "$base" <<'EOF'
import base64, json, sys, urllib.request
text = sys.argv[1].removeprefix("kendrix1:")
creds = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
basic = base64.b64encode(f"{creds['client_id']}:{creds['client_secret']}".encode()).decode()
request = urllib.request.Request(f"{sys.argv[2]}/oauth/token", data=b"grant_type=client_credentials",
                                 headers={"Authorization": f"Basic {basic}"})
print(json.load(urllib.request.urlopen(request))["access_token"])
EOF
}
SITE_TOKEN=$(token_of "Demo site")
ADMIN_TOKEN=$(token_of "Demo admin")
export SITE_TOKEN ADMIN_TOKEN

echo "fuzzing $base/openapi.json (server log: $work/server.log)"
status=0
config="$PWD/scripts/fuzz.toml"
site_paths='^/sync/(batches|versions|heartbeat)$'
# schemathesis keeps its example database in the working directory: the run's own.
cd "$work"
# Two passes, one token each: schemathesis sends its bearer token through the document's
# security scheme (a plain Authorization header would be replaced by generated ones), and
# that token cannot be chosen per operation.
fuzz() {
  FUZZ_TOKEN="$1" "$venv/bin/schemathesis" --config-file "$config" run "$base/openapi.json" \
    --checks not_a_server_error,status_code_conformance,response_schema_conformance \
    --phases examples,coverage,fuzzing "${@:2}" || status=$?
}
echo "-- as the Demo admin (clients:admin config:read config:write audit:read stats:read)"
fuzz "$ADMIN_TOKEN" --exclude-path-regex "$site_paths" "$@"
echo "-- as the Demo site (sync:write config:read)"
fuzz "$SITE_TOKEN" --include-path-regex "$site_paths" "$@"
if [ "$status" -ne 0 ]; then
  echo "--- server log (last 50 lines)"
  tail -n 50 "$work/server.log"
fi
exit "$status"
