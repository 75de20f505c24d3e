#!/usr/bin/env bash
# bench/scale: compatgate's time and memory as the library grows.
#
# Usage: bench/scale/run.sh [-w WORKDIR] [-r RUNS] [MODULES...]   (default: 1000 2000 4000)
#
# Generates the bench/gen library pair at each size, compiles it (gcc -g -O1,
# one job per core), runs compatgate check RUNS times (default 5) under
# /usr/bin/time, and prints a Markdown table: modules, exported symbols,
# DWARF size, median wall time, median CPU time (user + system), median peak
# RSS, and wall time and memory per MiB of DWARF (linear scaling keeps the
# last two flat).
set -euo pipefail
work=${TMPDIR:-/tmp}/compatgate-scale
runs=5
while getopts w:r: opt; do
	case $opt in
	w) work=$OPTARG ;;
	r) runs=$OPTARG ;;
	*) sed -n '2,12p' "$0"; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000 2000 4000)
root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$work"
(cd "$root" && CGO_ENABLED=0 go build -o "$work/compatgate" ./cmd/compatgate && go build -o "$work/gen" ./bench/gen)

build() { # build DIR VERSION
	local src=$1/$2 objs=$1/obj-$2
	mkdir -p "$objs"
	ls "$src"/*.c | xargs -P "$(nproc)" -I{} sh -c 'gcc -c -fPIC -g -O1 -o "$0/$(basename "{}" .c).o" "{}"' "$objs"
	gcc -shared -Wl,-soname,libgen.so.1 -o "$1/$2.so" "$objs"/*.o
}

# median: the median of the numbers on stdin.
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

printf '| modules | symbols | DWARF MiB (new) | wall s | CPU s | peak RSS MiB | s per DWARF MiB | RSS MiB per DWARF MiB | verdict |\n'
printf '|---|---|---|---|---|---|---|---|---|\n'
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
	: >"$d/times"
	for _ in $(seq "$runs"); do
		set +e
		/usr/bin/time -f '%e %U %S %M' -o "$d/time" "$work/compatgate" check --format json "$d/v1.so" "$d/v2.so" >"$d/report.json"
		set -e
		cat "$d/time" >>"$d/times"
	done
	wall=$(awk '{ print $1 }' "$d/times" | median)
	cpu=$(awk '{ print $2 + $3 }' "$d/times" | median)
	rss=$(awk '{ print $4 / 1024 }' "$d/times" | median)
	verdict=$(sed -n 's/^  "verdict": "\(.*\)",$/\1/p' "$d/report.json")
	awk -v m="$m" -v s="$syms" -v d="$dwarf" -v w="$wall" -v c="$cpu" -v r="$rss" -v v="$verdict" \
		'BEGIN { printf "| %d | %d | %.2f | %.2f | %.2f | %.0f | %.3f | %.1f | %s |\n", m, s, d, w, c, r, w / d, r / d, v }'
done
