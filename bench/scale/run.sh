#!/usr/bin/env bash
# bench/scale: compatgate's time and memory as the library grows.
#
# Usage: bench/scale/run.sh [-w WORKDIR] [MODULES...]   (default: 1000 2000 4000)
#
# Generates the bench/gen library pair at each size, compiles it (gcc -g -O1,
# one job per core), runs compatgate check under /usr/bin/time -v, and prints
# a Markdown table: modules, exported symbols, DWARF size, wall time, peak
# RSS, and time and memory per MiB of DWARF (linear scaling keeps the last
# two flat).
set -euo pipefail
work=${TMPDIR:-/tmp}/compatgate-scale
while getopts w: opt; do
	case $opt in
	w) work=$OPTARG ;;
	*) sed -n '2,11p' "$0"; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000 2000 4000)
root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$work"
(cd "$root" && go build -o "$work/compatgate" ./cmd/compatgate && go build -o "$work/gen" ./bench/gen)

build() { # build DIR VERSION
	local src=$1/$2 objs=$1/obj-$2
	mkdir -p "$objs"
	ls "$src"/*.c | xargs -P "$(nproc)" -I{} sh -c 'gcc -c -fPIC -g -O1 -o "$0/$(basename "{}" .c).o" "{}"' "$objs"
	gcc -shared -Wl,-soname,libgen.so.1 -o "$1/$2.so" "$objs"/*.o
}

printf '| modules | symbols | DWARF MiB (new) | wall s | peak RSS MiB | s per DWARF MiB | RSS MiB per DWARF MiB | verdict |\n'
printf '|---|---|---|---|---|---|---|---|\n'
for m in "${sizes[@]}"; do
	d=$work/m$m
	if [ ! -e "$d/v2.so" ]; then
		rm -rf "$d"
		"$work/gen" -modules "$m" -dir "$d"
		build "$d" v1
		build "$d" v2
	fi
	syms=$(nm -D --defined-only "$d/v2.so" | wc -l)
	dwarf=$(size -A -d "$d/v2.so" | awk '$1 ~ /^\.debug_/ { s += $2 } END { printf "%.2f", s / 1048576 }')
	set +e
	/usr/bin/time -v -o "$d/time" "$work/compatgate" check --format json "$d/v1.so" "$d/v2.so" >"$d/report.json"
	set -e
	wall=$(sed -n 's/.*Elapsed (wall clock) time.*: //p' "$d/time" | awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.2f", s }')
	rss=$(awk '/Maximum resident set size/ { printf "%.0f", $NF / 1024 }' "$d/time")
	verdict=$(sed -n 's/^  "verdict": "\(.*\)",$/\1/p' "$d/report.json")
	awk -v m="$m" -v s="$syms" -v d="$dwarf" -v w="$wall" -v r="$rss" -v v="$verdict" \
		'BEGIN { printf "| %d | %d | %.2f | %.2f | %d | %.3f | %.1f | %s |\n", m, s, d, w, r, w / d, r / d, v }'
done
