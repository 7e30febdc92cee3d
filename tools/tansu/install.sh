#!/usr/bin/env bash
# Installs the Kafka-compatible broker the tests run: tansu 0.6.0 with the
# patches in patches/ (why: README.md here). Does nothing when that build is
# installed already; prints the broker's path.
set -euo pipefail

version=0.6.0
here="$(cd "$(dirname "$0")" && pwd)"
data="${XDG_DATA_HOME:-$HOME/.local/share}/eddy/tansu"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/eddy/tansu-build"
bin="$data/bin/tansu"
stamp="$(cat "$here"/patches/*.patch | sha256sum | cut -c1-16)"

if [ -x "$bin" ] && [ "$(cat "$data/stamp" 2>/dev/null)" = "$stamp" ]; then
    echo "$bin"
    exit 0
fi

src="$cache/src"
rm -rf "$src"
mkdir -p "$src"

fetch() { # crate, its sha256 from the crates.io index
    curl -sSfL --retry 3 -o "$src/$1.crate" "https://static.crates.io/crates/$1/$version/download"
    echo "$2  $src/$1.crate" | sha256sum -c --quiet -
    tar xzf "$src/$1.crate" -C "$src"
}
fetch tansu 4fdd85473ec265140488cf8d55e82b844f5c051c8916fabdd4a71156ac053f6d
fetch tansu-storage 720d2ed8e6010c70f7f06e5af5a7274ebbf6e42fdcd9e46de542b10dc4d2f35d
fetch tansu-broker 93c1e91b40c2a706dfdbe9a795c08c70918c874ad23f6e0e87564cc0a180e720

for crate in tansu-storage tansu-broker; do
    patch -s -d "$src/$crate-$version" -p1 < "$here/patches/$crate.patch"
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
