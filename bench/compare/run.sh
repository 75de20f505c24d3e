#!/usr/bin/env bash
# bench/compare: compatgate against abidiff on real library pairs from
# Debian packages, side by side in one run.
#
# Usage: bench/compare/run.sh [-c CACHE_DIR] [-t TIMEOUT_SECONDS] [-x] [PAIR...]
#
# -x only downloads and extracts the packages, and measures nothing.
#
# Downloads the packages (apt-get download, cached in CACHE_DIR, default
# /var/cache/compatgate-bench), extracts them with dpkg-deb -x, builds
# compatgate, then runs compatgate check and abidiff on each pair in turn under
# /usr/bin/time -v and prints a Markdown table: DWARF size, wall time and peak
# RSS of each tool, the two ratios, and both verdicts, then how many CPUs
# other processes kept busy while the tools ran (bench/timing.sh), with a
# warning when the wall times are not representative. PAIR names select
# pairs (default: all). Raw outputs stay in CACHE_DIR/runs/.
set -euo pipefail

cache=/var/cache/compatgate-bench
limit=7200
fetchonly=
while getopts c:t:x opt; do
	case $opt in
	c) cache=$OPTARG ;;
	t) limit=$OPTARG ;;
	x) fetchonly=1 ;;
	*) sed -n '2,16p' "$0"; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/bench/timing.sh"

# name | packages (old) | packages (new) | old library | new library | debug root (relative to each side) or -
pairs=(
	"libstdc++-11-12|libstdc++6-11-dbg=11.3.0-12|libstdc++6-12-dbg=12.2.0-14+deb12u1|usr/lib/x86_64-linux-gnu/debug/libstdc++.so.6.0.29|usr/lib/x86_64-linux-gnu/debug/libstdc++.so.6.0.30|-"
	"petsc-real-complex|libpetsc-real3.18-dbg=3.18.5+dfsg1-1|libpetsc-complex3.18-dbg=3.18.5+dfsg1-1|usr/lib/petscdir/petsc3.18/x86_64-linux-gnu-real-debug/lib/libpetsc_real.so.3.18.5|usr/lib/petscdir/petsc3.18/x86_64-linux-gnu-complex-debug/lib/libpetsc_complex.so.3.18.5|-"
	"libLLVM-14-15|libllvm14=1:14.0.6-12|libllvm15=1:15.0.6-4+b1|usr/lib/x86_64-linux-gnu/libLLVM-14.so.1|usr/lib/x86_64-linux-gnu/libLLVM-15.so.1|-"
	"libjvm-17.0.19-17.0.21|openjdk-17-jre-headless=17.0.19+10-1~deb12u2 openjdk-17-dbg=17.0.19+10-1~deb12u2|openjdk-17-jre-headless=17.0.21.1+2-1~deb12u1 openjdk-17-dbg=17.0.21.1+2-1~deb12u1|usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so|usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so|usr/lib/debug"
)

need=()
command -v abidiff >/dev/null || need+=(abigail-tools)
[ -x /usr/bin/time ] || need+=(time)
command -v size >/dev/null || need+=(binutils)
command -v dpkg-deb >/dev/null || need+=(dpkg)
if [ ${#need[@]} -gt 0 ]; then
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

mkdir -p "$cache/debs" "$cache/x" "$cache/runs"
cg="$cache/compatgate"
(cd "$root" && CGO_ENABLED=0 go build -o "$cg" ./cmd/compatgate) # static, as released

# extract PKGSPEC... into a directory named after them; prints the directory.
extract() {
	local dir="$cache/x/$(echo "$*" | tr ' =:~+' '_____')"
	if [ ! -e "$dir/.done" ]; then
		mkdir -p "$dir"
		local spec deb
		for spec in "$@"; do
			local pkg=${spec%%=*} ver=${spec#*=}
			deb=$(ls "$cache/debs/${pkg}_$(echo "$ver" | sed 's/:/%3a/')_"*.deb 2>/dev/null | head -1 || true)
			if [ -z "$deb" ]; then
				(cd "$cache/debs" && apt-get download -qq "$spec" >&2)
				deb=$(ls "$cache/debs/${pkg}_$(echo "$ver" | sed 's/:/%3a/')_"*.deb | head -1)
			fi
			dpkg-deb -x "$deb" "$dir"
		done
		touch "$dir/.done"
	fi
	echo "$dir"
}


# measure NAME CMD...: runs CMD under /usr/bin/time -v with the time limit;
# sets wall (s), rss (MiB) and rc.
measure() {
	local name=$1; shift
	local tf="$cache/runs/$name.time"
	set +e
	timed_run "$tf" timeout "$limit" "$@" >"$cache/runs/$name.out" 2>"$cache/runs/$name.err"
	rc=$?
	set -e
	read -r wall _ _ rss <<<"$(time_fields "$tf")"
	rss=$(awk -v r="$rss" 'BEGIN { printf "%.0f", r / 1024 }')
}

# dwarf_mib FILE: the size of FILE's .debug_* sections in MiB.
dwarf_mib() { size -A -d "$1" 2>/dev/null | awk '$1 ~ /^\.(z?debug_)/ { s += $2 } END { printf "%.1f", s / 1048576 }'; }

# debug_file LIB ROOT: the separate debug file of LIB under ROOT, by build-id.
debug_file() {
	local id; id=$(readelf -n "$1" | sed -n 's/.*Build ID: //p' | head -1)
	echo "$2/.build-id/${id:0:2}/${id:2}.debug"
}

verdict_of_abidiff() {
	case $1 in
	0) echo compatible ;; 4) echo review ;; 12) echo incompatible ;; 124) echo timeout ;; *) echo "error($1)" ;;
	esac
}

# selected NAME [PAIR...]: whether NAME is among the pairs asked for (all when none).
selected() {
	local name=$1 p
	shift
	[ $# -eq 0 ] && return 0
	for p in "$@"; do [ "$p" = "$name" ] && return 0; done
	return 1
}

printf '| pair | DWARF MiB (old/new) | compatgate s | abidiff s | time ratio | compatgate MiB | abidiff MiB | RSS ratio | compatgate verdict | abidiff verdict |\n'
printf '|---|---|---|---|---|---|---|---|---|---|\n'
for p in "${pairs[@]}"; do
	IFS='|' read -r name oldpkgs newpkgs oldlib newlib dbgroot <<<"$p"
	selected "$name" "$@" || continue
	read -ra op <<<"$oldpkgs"; read -ra np <<<"$newpkgs"
	od=$(extract "${op[@]}"); nd=$(extract "${np[@]}")
	[ -z "$fetchonly" ] || continue
	cgflags=() abflags=() odw=$od/$oldlib ndw=$nd/$newlib
	if [ "$dbgroot" != - ]; then
		cgflags=(--debug-dir "$od/$dbgroot" --debug-dir "$nd/$dbgroot")
		abflags=(--d1 "$od/$dbgroot" --d2 "$nd/$dbgroot")
		odw=$(debug_file "$od/$oldlib" "$od/$dbgroot"); ndw=$(debug_file "$nd/$newlib" "$nd/$dbgroot")
	fi
	measure "$name.compatgate" "$cg" check --format json "${cgflags[@]}" "$od/$oldlib" "$nd/$newlib"
	cgw=$wall cgr=$rss
	cgv=$(sed -n 's/^  "verdict": "\(.*\)",$/\1/p' "$cache/runs/$name.compatgate.out")
	[ -n "$cgv" ] || cgv="error($rc)"
	measure "$name.abidiff" abidiff "${abflags[@]}" "$od/$oldlib" "$nd/$newlib"
	abw=$wall abr=$rss abv=$(verdict_of_abidiff "$rc")
	tr=$(awk -v a="$abw" -v c="$cgw" 'BEGIN { printf (c > 0 ? "%.1f×" : "-"), a / c }')
	rr=$(awk -v a="$abr" -v c="$cgr" 'BEGIN { printf (c > 0 ? "%.1f×" : "-"), a / c }')
	printf '| %s | %s / %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$(dwarf_mib "$odw")" "$(dwarf_mib "$ndw")" \
		"$cgw" "$abw" "$tr" "$cgr" "$abr" "$rr" "$cgv" "$abv"
done
[ -n "$fetchonly" ] || load_note
