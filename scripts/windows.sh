#!/usr/bin/env bash
# Windows builds of Kendrix Sync (x86_64-pc-windows-gnu), cross-built on Debian. Installs what
# is missing: the rustup target, Debian's mingw-w64 linker, Wine and NSIS.
#
#   bash scripts/windows.sh            # for the tests: kendrix.exe (debug) and its Wine test
#                                      # aids; prints the path of the test copy of kendrix.exe
#   bash scripts/windows.sh release    # for sites: kendrix.exe and kendrix-desktop.exe
#                                      # (release), the NSIS installer and a .zip; prints them
#
# Test mode: Wine 8 lacks bcryptprimitives.dll (ProcessPrng, which Rust's std imports), so the
# test copy in <target>/wine/ gets a small stand-in DLL beside it (scripts/windows/
# bcryptprimitives-shim.c); real Windows 10/11 has the DLL, so the shim is never shipped.
# Beside it go hold-open.exe (scripts/windows/hold-open.c), a writer that keeps a file open
# with no sharing, for the inbox story, and the agent-only installer the installer story runs.
# All three are test aids only.
set -euo pipefail
cd "$(dirname "$0")/.."

target=x86_64-pc-windows-gnu
missing=()
for pkg in gcc-mingw-w64-x86-64 wine wine64 nsis zip; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
  echo "installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
rustup target list --installed | grep -qx "$target" || rustup target add "$target" >&2

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
installer() { # installer OUT_FILE AGENT_EXE [DESKTOP_EXE]
  makensis -V2 -DVERSION="$version" -DICON="$PWD/icons/icon.ico" -DOUT_FILE="$1" \
    -DAGENT_EXE="$2" ${3:+-DDESKTOP_EXE="$3"} scripts/windows/kendrix.nsi >&2
}

if [ "${1:-}" = release ]; then
  # The desktop app embeds ui/dist (feature custom-protocol); Tauri's own NSIS bundler would
  # fetch its tools from the internet, so the installer is scripts/windows/kendrix.nsi.
  (cd ui && npm ci --no-audit --no-fund --silent && npm run build >&2)
  cargo build --release --locked --target "$target" -p kendrix-agent -p kendrix-desktop >&2
  out="$(cd "${CARGO_TARGET_DIR:-target}/$target/release" && pwd)"
  bundle="$out/bundle"
  mkdir -p "$bundle/programs"
  # The release profile keeps debug information for profiling; sites get the programs
  # without it.
  for exe in kendrix.exe kendrix-desktop.exe; do
    x86_64-w64-mingw32-strip --strip-debug -o "$bundle/programs/$exe" "$out/$exe"
  done
  installer "$bundle/Kendrix-Sync-$version-setup.exe" "$bundle/programs/kendrix.exe" \
    "$bundle/programs/kendrix-desktop.exe"
  zip_file="$bundle/kendrix-$version-windows-x86_64.zip"
  rm -f "$zip_file"
  (cd "$bundle/programs" && zip -q -9 "$zip_file" kendrix.exe kendrix-desktop.exe)
  zip -q -9 -j "$zip_file" README.md
  ls -1 "$bundle/Kendrix-Sync-$version-setup.exe" "$zip_file"
  exit 0
fi

cargo build --locked --target "$target" -p kendrix-agent >&2
out="${CARGO_TARGET_DIR:-target}/$target/debug"
wine_dir="${CARGO_TARGET_DIR:-target}/wine"
mkdir -p "$wine_dir"
# Without its debug information (a tenth of the size): quicker to load under Wine and to pack.
x86_64-w64-mingw32-strip --strip-debug -o "$wine_dir/kendrix.exe" "$out/kendrix.exe"
if [ ! -f "$wine_dir/bcryptprimitives.dll" ] ||
  [ scripts/windows/bcryptprimitives-shim.c -nt "$wine_dir/bcryptprimitives.dll" ]; then
  x86_64-w64-mingw32-gcc -shared -O2 -o "$wine_dir/bcryptprimitives.dll" \
    scripts/windows/bcryptprimitives-shim.c -ladvapi32
fi
if [ ! -f "$wine_dir/hold-open.exe" ] || [ scripts/windows/hold-open.c -nt "$wine_dir/hold-open.exe" ]; then
  x86_64-w64-mingw32-gcc -municode -O2 -o "$wine_dir/hold-open.exe" scripts/windows/hold-open.c
fi
wine_dir=$(cd "$wine_dir" && pwd)
installer "$wine_dir/Kendrix-Sync-setup.exe" "$wine_dir/kendrix.exe"
echo "$wine_dir/kendrix.exe"
