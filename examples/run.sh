#!/usr/bin/env bash
# Builds compatgate and the two versions of the bundled example library
# (examples/shapes/v1 and v2, compiled with gcc -g), then checks whether
# version 2 can replace version 1, given each version's public headers
# (examples/shapes/vN/include). Exits with compatgate's status.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${TMPDIR:-/tmp}/compatgate-example
mkdir -p "$out"
CGO_ENABLED=0 go build -o "$out/compatgate" ./cmd/compatgate # static, as released
for v in v1 v2; do
	gcc -shared -fPIC -g -O2 -Wl,-soname,libshapes.so.1 -o "$out/libshapes-$v.so" -Iexamples/shapes/$v/include examples/shapes/$v/shapes.c -lm
done
exec "$out/compatgate" check --headers-dir1 examples/shapes/v1/include --headers-dir2 examples/shapes/v2/include \
	"$@" "$out/libshapes-v1.so" "$out/libshapes-v2.so"
