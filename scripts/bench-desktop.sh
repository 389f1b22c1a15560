#!/usr/bin/env bash
# S9 of shared/bench.md: the desktop app's footprint — idle RSS (the app and its WebKit
# processes) and .deb size — against a minimal Tauri 2 app with a tray (crates/bench/
# minimal-tauri), both built and bundled the same way (`tauri build --bundles deb`) in this
# run. Prints two lines in the benchmark format and writes target/bench/s9.json.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
target="${CARGO_TARGET_DIR:-$root/target}"
export CARGO_TARGET_DIR="$target"
mkdir -p "$target/bench"

if [ "${KENDRIX_IN_SESSION:-}" != "1" ]; then
  bash scripts/release.sh >/dev/null
  (cd crates/bench/minimal-tauri && CARGO_TARGET_DIR="$target/minimal" "$root/ui/node_modules/.bin/tauri" build --bundles deb -- --profile desktop-release >/dev/null)
  exec bash scripts/with-session.sh bash "$0" "$@"
fi

# Both built with the same profile, desktop-release.
deb_size() { stat -c %s "$(ls -1 "$1"/desktop-release/bundle/deb/*.deb | head -n1)"; }
tree_rss_kb() { # the process and all its descendants
  local total=0 pid
  for pid in $1 $(pgrep -P "$1"); do
    [ "$pid" = "$1" ] || { total=$((total + $(tree_rss_kb "$pid"))); continue; }
    total=$((total + $(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)))
  done
  echo "$total"
}
idle_rss() { # binary → KiB after 10 s of idling
  local dir; dir=$(mktemp -d)
  KENDRIX_AGENT_DIR="$dir" "$1" >/dev/null 2>&1 &
  local pid=$!
  sleep 10
  local rss; rss=$(tree_rss_kb $pid)
  kill $pid 2>/dev/null; wait $pid 2>/dev/null || true
  echo "$rss"
}

app_deb=$(deb_size "$target"); base_deb=$(deb_size "$target/minimal")
app_rss=$(idle_rss "$target/desktop-release/kendrix-desktop"); base_rss=$(idle_rss "$target/minimal/desktop-release/minimal-tauri")
python3 - "$app_rss" "$base_rss" "$app_deb" "$base_deb" "$target/bench/s9.json" <<'PY'
import json, sys
app_rss, base_rss, app_deb, base_deb = map(int, sys.argv[1:5])
rows = [
    ("S9", "desktop idle RSS (app + WebKit processes) vs a minimal Tauri app", app_rss / 1024, "MiB", base_rss / 1024),
    ("S9", ".deb size vs a minimal Tauri app's .deb", app_deb / 1048576, "MiB", base_deb / 1048576),
]
out = []
for scenario, description, value, unit, baseline in rows:
    ratio = value / baseline
    ok = ratio <= 1.5
    print(f"{scenario:<4} {value:>12.1f} {unit:<10} {baseline:>12.1f} {ratio:>7.3f} {'<=1.5':>6} {'PASS' if ok else 'FAIL'}  ({description})")
    out.append(dict(scenario=scenario, description=description, value=value, unit=unit, baseline=baseline, ratio=ratio, target="<=1.5", pass_=ok))
json.dump(out, open(sys.argv[5], "w"), indent=2)
PY
