#!/usr/bin/env bash
# bench/scale: compatgate's time and memory as the library grows.
#
# Usage: bench/scale/run.sh [-w WORKDIR] [-r RUNS] [MODULES...]          (default: 1000 2000 4000)
#        bench/scale/run.sh -H [-w WORKDIR] [-r RUNS] [-a RUNS] [-t SECONDS] [S/F/U...]
#
# Modules shape (the default): generates the bench/gen library pair at each
# size, compiles it (gcc -g -O1, one job per core), runs compatgate check RUNS
# times (default 5) under /usr/bin/time, and prints a Markdown table: modules,
# exported symbols, DWARF size, median wall time, median CPU time (user +
# system), median peak RSS, and wall time and memory per MiB of DWARF (linear
# scaling keeps the last two flat).
#
# Header shape (-H): each size S/F/U is S structs in one header included by
# each of U units, F functions (bench/gen -shape header; S/F/U/owner adds
# -owner: one strongly connected type graph); default: a sweep over
# units at 400 structs, 4000 functions (10, 40, 200 units), then 2000/20000/200.
# Runs compatgate check RUNS times and abidiff RUNS times (-a, default 1; at
# most -t seconds each, default 3600) in turn under /usr/bin/time -v, and
# prints a Markdown table: DWARF size, median wall time and peak RSS of each
# tool, the two ratios (abidiff's over compatgate's), compatgate's peak RSS
# against the first size with as many structs and functions, and both verdicts.
# It first measures each tool's floor, its peak RSS on the smallest pair of
# the shape (10 structs, 10 functions, 1 unit): the binary's pages and the
# runtime's, which no input size changes; the last RSS ratio is that of the
# two tools' peaks above their floors, the memory the input costs each.
# Both tables end with how many CPUs other processes kept busy while the
# tools ran (bench/timing.sh), with a warning when that makes the wall times
# not representative.
set -euo pipefail
work=${TMPDIR:-/tmp}/compatgate-scale
runs=5 abruns=1 limit=3600 header=
while getopts w:r:a:t:H opt; do
	case $opt in
	w) work=$OPTARG ;;
	r) runs=$OPTARG ;;
	a) abruns=$OPTARG ;;
	t) limit=$OPTARG ;;
	H) header=1 ;;
	*) sed -n '2,29p' "$0"; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
sizes=("$@")
if [ ${#sizes[@]} -eq 0 ]; then
	if [ -n "$header" ]; then sizes=(400/4000/10 400/4000/40 400/4000/200 2000/20000/200); else sizes=(1000 2000 4000); fi
fi
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/bench/timing.sh"
mkdir -p "$work"
(cd "$root" && CGO_ENABLED=0 go build -o "$work/compatgate" ./cmd/compatgate && go build -o "$work/gen" ./bench/gen)

build() { # build DIR VERSION
	local src=$1/$2 objs=$1/obj-$2
	mkdir -p "$objs"
	ls "$src"/*.c | xargs -P "$(nproc)" -I{} sh -c 'gcc -c -fPIC -g -O1 -o "$0/$(basename "{}" .c).o" "{}"' "$objs"
	gcc -shared -Wl,-soname,libgen.so.1 -o "$1/$2.so" "$objs"/*.o
}

# generate DIR GEN-ARGS...: generates and builds the pair in DIR unless built.
generate() {
	local d=$1; shift
	if [ ! -e "$d/v2.so" ]; then
		rm -rf "$d"
		"$work/gen" "$@" -dir "$d"
		build "$d" v1
		build "$d" v2
	fi
}

# median: the median of the numbers on stdin.
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

# dwarf_mib FILE: the size of FILE's .debug_* sections in MiB.
dwarf_mib() { size -A -d "$1" | awk '$1 ~ /^\.debug_/ { s += $2 } END { printf "%.2f", s / 1048576 }'; }


# measure N OUT CMD...: runs CMD N times under /usr/bin/time -v with the time
# limit, its output in OUT; sets wall (median s), rss (median MiB) and rc (the
# last run's exit status).
measure() {
	local n=$1 out=$2 i; shift 2
	: >"$out.times"
	for i in $(seq "$n"); do
		set +e
		timed_run "$out.time" timeout "$limit" "$@" >"$out" 2>"$out.err"
		rc=$?
		set -e
		time_fields "$out.time" | awk '{ print $1, $4 / 1024 }' >>"$out.times"
	done
	wall=$(awk '{ print $1 }' "$out.times" | median)
	rss=$(awk '{ print $2 }' "$out.times" | median)
}

json_verdict() { sed -n 's/^  "verdict": "\(.*\)",$/\1/p' "$1"; }

if [ -n "$header" ]; then
	command -v abidiff >/dev/null || { echo "bench/scale: abidiff not installed (apt-get install abigail-tools)" >&2; exit 1; }
	d=$work/h10-10-1
	generate "$d" -shape header -structs 10 -functions 10 -units 1
	measure "$runs" "$d/compatgate.json" "$work/compatgate" check --format json "$d/v1.so" "$d/v2.so"
	cgfloor=$rss
	measure "$runs" "$d/abidiff.out" abidiff "$d/v1.so" "$d/v2.so"
	abfloor=$rss
	awk -v c="$cgfloor" -v a="$abfloor" 'BEGIN { printf "Floors (peak RSS on 10 structs, 10 functions, 1 unit): compatgate %.1f MiB, abidiff %.1f MiB.\n\n", c, a }'
	printf '| structs | functions | units | DWARF MiB (new) | compatgate s | abidiff s | time ratio | compatgate MiB | abidiff MiB | RSS ratio | RSS ratio above floors | compatgate RSS vs first units | compatgate verdict | abidiff verdict |\n'
	printf '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n'
	declare -A base
	for size in "${sizes[@]}"; do
		IFS=/ read -r s f u o <<<"$size"
		d=$work/h$s-$f-$u${o:+-$o} flags=()
		[ "${o:-}" != owner ] || flags=(-owner)
		generate "$d" -shape header -structs "$s" -functions "$f" -units "$u" "${flags[@]}"
		measure "$runs" "$d/compatgate.json" "$work/compatgate" check --format json "$d/v1.so" "$d/v2.so"
		cgw=$wall cgr=$rss cgv=$(json_verdict "$d/compatgate.json")
		[ -n "$cgv" ] || cgv="error($rc)"
		measure "$abruns" "$d/abidiff.out" abidiff "$d/v1.so" "$d/v2.so"
		abw=$wall abr=$rss
		case $rc in
		0) abv=compatible ;; 4) abv=review ;; 12) abv=incompatible ;; 124) abv=timeout ;; *) abv="error($rc)" ;;
		esac
		[ -n "${base[$s/$f/${o:-}]:-}" ] || base[$s/$f/${o:-}]=$cgr
		awk -v s="$s${o:+ ($o)}" -v f="$f" -v u="$u" -v d="$(dwarf_mib "$d/v2.so")" -v cw="$cgw" -v aw="$abw" -v cr="$cgr" -v ar="$abr" \
			-v b="${base[$s/$f/${o:-}]}" -v cv="$cgv" -v av="$abv" -v cf="$cgfloor" -v af="$abfloor" 'BEGIN {
			printf "| %s | %d | %d | %.2f | %.2f | %.2f | %.1f× | %.0f | %.0f | %.2f× | %.1f× | %.2f× | %s | %s |\n",
				s, f, u, d, cw, aw, (cw > 0 ? aw / cw : 0), cr, ar, (cr > 0 ? ar / cr : 0),
				(cr > cf ? (ar - af) / (cr - cf) : 0), cr / b, cv, av }'
	done
	load_note
	exit 0
fi

printf '| modules | symbols | DWARF MiB (new) | wall s | CPU s | peak RSS MiB | s per DWARF MiB | RSS MiB per DWARF MiB | verdict |\n'
printf '|---|---|---|---|---|---|---|---|---|\n'
for m in "${sizes[@]}"; do
	d=$work/m$m
	generate "$d" -modules "$m"
	syms=$(nm -D --defined-only "$d/v2.so" | wc -l)
	dwarf=$(dwarf_mib "$d/v2.so")
	: >"$d/times"
	for _ in $(seq "$runs"); do
		set +e
		timed_run "$d/time" "$work/compatgate" check --format json "$d/v1.so" "$d/v2.so" >"$d/report.json"
		set -e
		time_fields "$d/time" >>"$d/times"
	done
	wall=$(awk '{ print $1 }' "$d/times" | median)
	cpu=$(awk '{ print $2 + $3 }' "$d/times" | median)
	rss=$(awk '{ print $4 / 1024 }' "$d/times" | median)
	verdict=$(json_verdict "$d/report.json")
	awk -v m="$m" -v s="$syms" -v d="$dwarf" -v w="$wall" -v c="$cpu" -v r="$rss" -v v="$verdict" \
		'BEGIN { printf "| %d | %d | %.2f | %.2f | %.2f | %.0f | %.3f | %.1f | %s |\n", m, s, d, w, c, r, w / d, r / d, v }'
done
load_note
