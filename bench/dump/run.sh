#!/usr/bin/env bash
# bench/dump: ABI dumps of the real libraries of bench/compare (and of the
# real-world pairs of bench/crosscheck, when built): their size against the
# DWARF they come from, the time to write them, and that check gives the
# same report, to the byte, with a dump on either side as with the
# libraries.
#
# Usage: bench/dump/run.sh [-c CACHE_DIR] [-r REALWORLD_DIR] [PAIR...]
#
# The bench/compare pairs must have been extracted (bench/compare/run.sh -x)
# under CACHE_DIR (default /var/cache/compatgate-bench); the real-world
# pairs are read from REALWORLD_DIR/runs/*.meta (default
# /var/cache/compatgate-realworld) when present. Prints a Markdown table;
# the dumps and reports stay in CACHE_DIR/dumps/. Exits 1 when a report
# differs.
set -euo pipefail

cache=/var/cache/compatgate-bench
realworld=/var/cache/compatgate-realworld
while getopts c:r: opt; do
	case $opt in
	c) cache=$OPTARG ;;
	r) realworld=$OPTARG ;;
	*) sed -n '2,16p' "$0"; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
root=$(cd "$(dirname "$0")/../.." && pwd)
out="$cache/dumps"
mkdir -p "$out"
cg="$out/compatgate"
(cd "$root" && CGO_ENABLED=0 go build -o "$cg" ./cmd/compatgate)

# The pairs of bench/compare, and its helpers debug_file and selected, as
# it declares them.
eval "$(sed -n '/^pairs=(/,/^)/p; /^debug_file() {/,/^}/p; /^selected() {/,/^}/p' "$root/bench/compare/run.sh")"

# seconds OUT CMD...: runs CMD with its standard output to OUT, prints its
# wall time in seconds.
seconds() {
	local t0 t1 o=$1
	shift
	t0=$(date +%s.%N)
	"$@" >"$o"
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }'
}
mib() { awk -v n="$1" 'BEGIN { printf "%.2f", n / 1048576 }'; }
# dwarf_bytes FILE: the size of FILE's .debug_* sections.
dwarf_bytes() { size -A -d "$1" 2>/dev/null | awk '$1 ~ /^\.(z?debug_)/ { s += $2 } END { print s + 0 }'; }

status=0
# measure NAME OLD NEW DWARF_OLD DWARF_NEW [--debug-dir D]...: one row.
measure() {
	local name=$1 old=$2 new=$3 dwo=$4 dwn=$5
	shift 5
	local d="$out/$name" side lib row=() same=()
	mkdir -p "$d"
	local -A dumpt
	for side in old new; do
		lib=$old; [ $side = new ] && lib=$new
		dumpt[$side]=$(seconds /dev/null "$cg" dump "$@" -o "$d/$side.abi.json" "$lib")
		gzip -6 -n -c "$d/$side.abi.json" >"$d/$side.abi.json.gz"
	done
	local libt dumpdumpt rc
	set +e
	libt=$(seconds "$d/lib-lib.json" "$cg" check --format json "$@" "$old" "$new")
	"$cg" check --format json "$@" "$d/old.abi.json.gz" "$new" >"$d/dump-lib.json"
	"$cg" check --format json "$@" "$old" "$d/new.abi.json" >"$d/lib-dump.json"
	dumpdumpt=$(seconds "$d/dump-dump.json" "$cg" check --format json "$d/old.abi.json.gz" "$d/new.abi.json.gz")
	set -e
	local r
	for r in dump-lib lib-dump dump-dump; do
		if cmp -s "$d/lib-lib.json" "$d/$r.json"; then same+=("="); else same+=("DIFFERENT"); status=1; fi
	done
	printf '| %s | %s / %s | %s / %s | %s / %s | %s / %s | %s | %s | %s | %s |\n' "$name" \
		"$(mib "$dwo")" "$(mib "$dwn")" \
		"$(mib "$(stat -c %s "$d/old.abi.json")")" "$(mib "$(stat -c %s "$d/new.abi.json")")" \
		"$(mib "$(stat -c %s "$d/old.abi.json.gz")")" "$(mib "$(stat -c %s "$d/new.abi.json.gz")")" \
		"${dumpt[old]}" "${dumpt[new]}" "$libt" "$dumpdumpt" \
		"$(sed -n 's/^  "verdict": "\(.*\)",$/\1/p' "$d/lib-lib.json")" "${same[*]}"
}

printf '| pair | DWARF MiB (old/new) | dump MiB | dump.gz MiB | dump s | check libs s | check dumps s | verdict | dump-lib lib-dump dump-dump |\n'
printf '|---|---|---|---|---|---|---|---|---|\n'
for p in "${pairs[@]}"; do
	IFS='|' read -r name oldpkgs newpkgs oldlib newlib dbgroot <<<"$p"
	selected "$name" "$@" || continue
	od="$cache/x/$(echo "$oldpkgs" | tr ' =:~+' '_____')"
	nd="$cache/x/$(echo "$newpkgs" | tr ' =:~+' '_____')"
	if [ ! -e "$od/.done" ] || [ ! -e "$nd/.done" ]; then
		echo "| $name | not extracted: run bench/compare/run.sh -x $name |" && continue
	fi
	flags=() odw=$od/$oldlib ndw=$nd/$newlib
	if [ "$dbgroot" != - ]; then
		flags=(--debug-dir "$od/$dbgroot" --debug-dir "$nd/$dbgroot")
		odw=$(debug_file "$od/$oldlib" "$od/$dbgroot"); ndw=$(debug_file "$nd/$newlib" "$nd/$dbgroot")
	fi
	measure "$name" "$od/$oldlib" "$nd/$newlib" "$(dwarf_bytes "$odw")" "$(dwarf_bytes "$ndw")" "${flags[@]}"
done
for meta in "$realworld"/runs/*.meta; do
	[ -e "$meta" ] || break
	name=$(sed -n 's/^pair=//p' "$meta")
	selected "$name" "$@" || continue
	old=$(sed -n 's/^old_lib=//p' "$meta") new=$(sed -n 's/^new_lib=//p' "$meta")
	[ -e "$old" ] && [ -e "$new" ] || continue
	measure "$name" "$old" "$new" "$(dwarf_bytes "$old")" "$(dwarf_bytes "$new")"
done
exit $status
