#!/usr/bin/env bash
# S9's size profile: builds the desktop binary as it ships (profile desktop-release: LTO, one
# codegen unit, -Os) but keeping its symbols (profile desktop-bloat), then prints how many
# bytes of code and data each crate — and each bundled C library — holds, largest first.
# Usage: bash scripts/size-profile.sh [rows]   (needs ui/dist: cd ui && npm ci && npm run build)
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-$PWD/target}"
[ -f ui/dist/index.html ] || { echo "ui/dist is missing: run (cd ui && npm ci && npm run build) first" >&2; exit 1; }
cargo build --locked -p kendrix-desktop --profile desktop-bloat
binary="$target/desktop-bloat/kendrix-desktop"
symbols=$(mktemp); trap 'rm -f "$symbols"' EXIT
nm --print-size --size-sort --demangle=rust "$binary" > "$symbols"
python3 - "$binary" "${1:-30}" "$symbols" <<'PY'
import collections, os, re, sys
binary, rows, symbols = sys.argv[1], int(sys.argv[2]), sys.argv[3]
sizes = collections.Counter()
# C symbols of the bundled libraries, by prefix.
C = [("sqlite3", "[C] sqlite"), ("ring_", "[C] ring"), ("GFp", "[C] ring"), ("mi_", "[C] mimalloc"),
     ("_mi_", "[C] mimalloc")]
def crate(sym):
    s = sym.lstrip("<&*")
    s = re.sub(r"^(dyn |mut |const )", "", s)
    for prefix, name in C:
        if s.startswith(prefix):
            return name
    if "::" not in s:
        return "[other C / unnamed]"
    return s.split("::", 1)[0]
for line in open(symbols):
    parts = line.rstrip("\n").split(" ", 3)
    if len(parts) < 4 or parts[2] not in "tTrRdDbB":
        continue
    size = int(parts[1], 16)
    if parts[2] in "bB":  # zero-initialised: no bytes in the file
        continue
    sizes[crate(parts[3])] += size
total = sum(sizes.values())
print(f"{'bytes':>10} {'share':>6}  crate (symbols of {os.path.basename(binary)}, file {os.path.getsize(binary)/1048576:.2f} MiB)")
for name, size in sizes.most_common(rows):
    print(f"{size:>10} {size/total:>6.1%}  {name}")
print(f"{total:>10} {1:>6.0%}  all named symbols")
PY
