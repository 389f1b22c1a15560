#!/usr/bin/env bash
# Builds the agent for Windows (`kendrix.exe`, x86_64-pc-windows-gnu) and, for the tests,
# a copy of it that runs under Wine. Installs what is missing: the rustup target, Debian's
# mingw-w64 linker, and Wine.
#
#   bash scripts/windows.sh        # prints the path of the built kendrix.exe
#
# Wine 8 lacks bcryptprimitives.dll (ProcessPrng, which Rust's std imports), so the test copy
# in <target>/wine/ gets a small stand-in DLL beside it (scripts/windows/
# bcryptprimitives-shim.c). Real Windows 10/11 has the DLL: the shim is never shipped.
set -euo pipefail
cd "$(dirname "$0")/.."

target=x86_64-pc-windows-gnu
missing=()
for pkg in gcc-mingw-w64-x86-64 wine wine64; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
  echo "installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
rustup target list --installed | grep -qx "$target" || rustup target add "$target" >&2

cargo build --locked --target "$target" -p kendrix-agent >&2
out="${CARGO_TARGET_DIR:-target}/$target/debug"
wine_dir="${CARGO_TARGET_DIR:-target}/wine"
mkdir -p "$wine_dir"
cp "$out/kendrix.exe" "$wine_dir/kendrix.exe"
if [ ! -f "$wine_dir/bcryptprimitives.dll" ] ||
  [ scripts/windows/bcryptprimitives-shim.c -nt "$wine_dir/bcryptprimitives.dll" ]; then
  x86_64-w64-mingw32-gcc -shared -O2 -o "$wine_dir/bcryptprimitives.dll" \
    scripts/windows/bcryptprimitives-shim.c -ladvapi32
fi
echo "$(cd "$wine_dir" && pwd)/kendrix.exe"
