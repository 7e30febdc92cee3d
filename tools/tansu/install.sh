#!/usr/bin/env bash
# Installs the Kafka-compatible broker the tests run: tansu 0.6.0 with the
# patches in patches/ (why: README.md here). Does nothing when that build is
# installed already; prints the broker's path.
#
# The sources come through cargo (a throwaway manifest that depends on the
# three crates, `cargo fetch`), which checks each crate against the
# registry index's checksum; the pristine .crate files are then unpacked
# from cargo's cache and patched.
set -euo pipefail

version=0.6.0
here="$(cd "$(dirname "$0")" && pwd)"
data="${XDG_DATA_HOME:-$HOME/.local/share}/eddy/tansu"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/eddy/tansu-build"
bin="$data/bin/tansu"
stamp="$( (echo "$version"; cat "$here"/patches/*.patch) | sha256sum | cut -c1-16)"

if [ -x "$bin" ] && [ "$(cat "$data/stamp" 2>/dev/null)" = "$stamp" ]; then
    echo "$bin"
    exit 0
fi

crates=(tansu tansu-storage tansu-broker)

# Fetch the crates through cargo.
manifest="$cache/fetch"
mkdir -p "$manifest/src"
: > "$manifest/src/lib.rs"
{
    printf '[package]\nname = "eddy-tansu-fetch"\nversion = "0.0.0"\nedition = "2021"\npublish = false\n\n[dependencies]\n'
    for crate in "${crates[@]}"; do
        printf '%s = { version = "=%s", default-features = false }\n' "$crate" "$version"
    done
} > "$manifest/Cargo.toml"
(cd "$manifest" && cargo fetch --quiet >&2)

registry="${CARGO_HOME:-$HOME/.cargo}/registry/cache"
src="$cache/src"
rm -rf "$src"
mkdir -p "$src"
for crate in "${crates[@]}"; do
    file=$(find "$registry" -name "$crate-$version.crate" | head -n 1)
    [ -n "$file" ] || { echo "install.sh: cargo fetched no $crate $version" >&2; exit 1; }
    tar xzf "$file" -C "$src"
done

# Patches apply in name order: patches/<crate>-<n>-<what>.patch.
for crate in tansu-storage tansu-broker; do
    for p in "$here"/patches/"$crate"-[0-9]*.patch; do
        patch -s -d "$src/$crate-$version" -p1 < "$p"
    done
done
mkdir -p "$src/tansu-$version/.cargo"
cat > "$src/tansu-$version/.cargo/config.toml" <<TOML
[patch.crates-io]
tansu-storage = { path = "../tansu-storage-$version" }
tansu-broker = { path = "../tansu-broker-$version" }
TOML

# The crate's own Cargo.lock pins every other dependency; only the patched
# crates' entries change, so no --locked here. The target directory stays
# in the cache: a changed patch rebuilds only the tansu crates.
(cd "$src/tansu-$version" &&
    cargo build --release --features dynostore --bin tansu --target-dir "$cache/target" >&2)

mkdir -p "$data/bin"
cp "$cache/target/release/tansu" "$bin.tmp"
mv "$bin.tmp" "$bin"
echo "$stamp" > "$data/stamp"
echo "$bin"
