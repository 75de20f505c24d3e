#!/usr/bin/env bash
# bench/realworld: compatgate, abidiff and abi-compliance-checker on real
# library upgrades that keep their SONAME, against a run-time ground truth.
#
# Usage: bench/realworld/run.sh [-c CACHE_DIR] [-b] [PAIR...]
#
# For each pair, builds the library's Debian bookworm and trixie source
# packages with the upstream build system (CFLAGS/CXXFLAGS "-g -O2"), each
# installed into a prefix of its own; builds the pair's client in clients/
# against OLD's headers and library and runs it against OLD (must pass) and
# NEW; then runs compatgate check --format json, abidiff and
# abi-compliance-checker on the two libraries, each under /usr/bin/time -v,
# and prints the Markdown table of `go run ./bench/realworld/score`.
# `go run ./bench/realworld/score -check CACHE_DIR/runs` states the
# acceptance of issue 17. -b only builds. PAIR names select pairs (default:
# all). Everything is cached in CACHE_DIR (default
# /var/cache/compatgate-realworld): a second run rebuilds nothing. Raw
# outputs stay in CACHE_DIR/runs/. Builds run JOBS (default 2) jobs at once.
set -euo pipefail

cache=/var/cache/compatgate-realworld
buildonly=
while getopts c:b opt; do
	case $opt in
	c) cache=$OPTARG ;;
	b) buildonly=1 ;;
	*) sed -n '2,18p' "$0"; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/bench/realworld
jobs=${JOBS:-2}

# Source packages: name | build system | extra arguments to it.
# autotools runs upstream's autogen.sh (or autoreconf -fi) only when the tree
# has no configure script.
sources=(
	"zlib|zlib-configure|"
	"cjson|cmake|-DENABLE_CJSON_TEST=Off -DENABLE_CJSON_UTILS=Off"
	"lz4|make-lz4|"
	"json-c|cmake|-DBUILD_TESTING=Off -DBUILD_STATIC_LIBS=Off"
	"libffi|autotools|--disable-static --disable-docs"
	"pcre2|autotools|--disable-static"
	"libpng1.6|autotools|--disable-static"
	"libuv1|cmake|-DLIBUV_BUILD_TESTS=Off -DLIBUV_BUILD_BENCH=Off"
	"libzstd|make-zstd|"
	"libwebp|autotools|--disable-static"
	"sqlite3|autotools|--disable-static --disable-tcl"
	"snappy|cmake|-DSNAPPY_BUILD_TESTS=Off -DSNAPPY_BUILD_BENCHMARKS=Off"
	"double-conversion|cmake|-DBUILD_TESTING=Off"
	"pugixml|cmake|"
)

# Pairs: name | source package | library (under PREFIX/lib) | client |
# its compiler and link flags | public headers (under PREFIX/include; for
# ACC) | ACC defines. snappy is built without RTTI, as upstream builds it,
# so its clients are too.
pairs=(
	"zlib|zlib|libz.so.1|zlib.c|-lz|zlib.h zconf.h|"
	"cjson|cjson|libcjson.so.1|cjson.c|-lcjson|cjson/cJSON.h|"
	"lz4|lz4|liblz4.so.1|lz4.c|-llz4|lz4.h lz4hc.h lz4frame.h|"
	"json-c|json-c|libjson-c.so.5|json-c.c|-ljson-c|json-c|"
	"libffi|libffi|libffi.so.8|libffi.c|-lffi|ffi.h ffitarget.h|"
	"pcre2-8|pcre2|libpcre2-8.so.0|pcre2-8.c|-lpcre2-8|pcre2.h|#define PCRE2_CODE_UNIT_WIDTH 8"
	"pcre2-posix|pcre2|libpcre2-posix.so.3|pcre2-posix.c|-lpcre2-posix -lpcre2-8|pcre2posix.h|"
	"libpng|libpng1.6|libpng16.so.16|libpng.c|-lpng16 -lz|libpng16|"
	"libuv|libuv1|libuv.so.1|libuv.c|-luv|uv.h|"
	"zstd|libzstd|libzstd.so.1|zstd.c|-lzstd|zstd.h zstd_errors.h zdict.h|"
	"libwebp|libwebp|libwebp.so.7|libwebp.c|-lwebp|webp/encode.h webp/decode.h webp/types.h|"
	"sqlite3|sqlite3|libsqlite3.so.0|sqlite3.c|-lsqlite3|sqlite3.h|"
	"snappy|snappy|libsnappy.so.1|snappy.cc|-fno-rtti -lsnappy|snappy.h snappy-c.h snappy-sinksource.h snappy-stubs-public.h|"
	"double-conversion|double-conversion|libdouble-conversion.so.3|double-conversion.cc|-ldouble-conversion|double-conversion|"
	"pugixml|pugixml|libpugixml.so.1|pugixml.cc|-lpugixml|pugixml.hpp pugiconfig.hpp|"
)
suites=(bookworm trixie)

need=()
for t in gcc g++ make cmake autoreconf libtoolize tclsh abidiff abi-compliance-checker ctags dpkg-parsechangelog; do
	command -v "$t" >/dev/null || need+=("$t")
done
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
	declare -A pkgof=([autoreconf]=autoconf [libtoolize]=libtool [tclsh]=tcl [abidiff]=abigail-tools
		[ctags]=universal-ctags [dpkg-parsechangelog]=dpkg-dev [time]=time)
	pkgs=()
	for t in "${need[@]}"; do pkgs+=("${pkgof[$t]:-$t}"); done
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null
fi
export PATH=$PATH:/usr/local/go/bin
mkdir -p "$cache/src" "$cache/build" "$cache/prefix" "$cache/runs"
debcache=${COMPATGATE_DEB_CACHE:-/var/cache/compatgate-debian}
(cd "$root" && go build -o "$cache/debfetch" ./bench/debfetch)

# source_tree NAME SUITE: prints the unpacked source tree of NAME in SUITE, and
# records in $cache/src/NAME-SUITE.origin its version and where it came from. The Debian
# source package when the mirror serves all of it; else the upstream tarball
# that apt fetched before failing (the mirror lacks some .dsc and
# .debian.tar.xz files), unpacked, without Debian's patches.
source_tree() {
	local name=$1 suite=$2 tree orig='' f
	if tree=$("$cache/debfetch" -cache "$debcache" source "$name/$suite" 2>"$cache/src/$name-$suite.fetch.err"); then
		printf '%s\nDebian source package\n' "$(dpkg-parsechangelog -l "$tree/debian/changelog" -S Version)" \
			>"$cache/src/$name-$suite.origin"
		echo "$tree"
		return
	fi
	tree=$cache/src/$name-$suite
	if [ ! -e "$tree/.done" ]; then
		for f in "$debcache/src/${name}_$suite/"*.orig.tar.*; do
			case $f in *.asc | *'*'*) ;; *) orig=$f ;; esac
		done
		if [ -z "$orig" ]; then
			echo "run.sh: no source for $name/$suite: $(tail -1 "$cache/src/$name-$suite.fetch.err")" >&2
			return 1
		fi
		rm -rf "$tree" && mkdir -p "$tree"
		tar -xf "$orig" -C "$tree" --strip-components=1
		f=${orig##*/}
		f=${f#"${name}"_}
		printf '%s\nupstream tarball %s (the mirror lacks the rest of the source package)\n' "${f%.orig.tar.*}" "${orig##*/}" \
			>"$cache/src/$name-$suite.origin"
		touch "$tree/.done"
	fi
	echo "$tree"
}

# build NAME SUITE: builds and installs source package NAME of SUITE into
# $cache/prefix/NAME-SUITE (once); prints the prefix.
build() {
	local name=$1 suite=$2 kind='' args='' s
	local prefix=$cache/prefix/$name-$suite
	if [ -e "$prefix/.done" ]; then echo "$prefix"; return; fi
	for s in "${sources[@]}"; do
		IFS='|' read -r n k a <<<"$s"
		[ "$n" = "$name" ] && kind=$k args=$a
	done
	[ -n "$kind" ] || { echo "run.sh: unknown source package $name" >&2; return 1; }
	local tree work=$cache/build/$name-$suite log=$cache/build/$name-$suite.log
	tree=$(source_tree "$name" "$suite")
	echo "building $name/$suite ($kind) in $work, log $log" >&2
	rm -rf "$work" "$prefix"
	cp -a "$tree" "$work"
	local -a extra
	read -ra extra <<<"$args"
	if ! (
		cd "$work"
		export CFLAGS="-g -O2" CXXFLAGS="-g -O2"
		unset LDFLAGS CPPFLAGS
		case $kind in
		autotools)
			if [ ! -x configure ]; then
				if [ -x autogen.sh ]; then ./autogen.sh; else autoreconf -fi; fi
			fi
			./configure --prefix="$prefix" --libdir="$prefix/lib" "${extra[@]}"
			make -j"$jobs"
			make install ;;
		zlib-configure)
			./configure --prefix="$prefix" --libdir="$prefix/lib"
			make -j"$jobs" shared
			make install ;;
		cmake)
			cmake -S . -B _build -DCMAKE_BUILD_TYPE=None -DCMAKE_INSTALL_PREFIX="$prefix" \
				-DCMAKE_INSTALL_LIBDIR=lib -DBUILD_SHARED_LIBS=On "${extra[@]}"
			cmake --build _build -j "$jobs"
			cmake --install _build ;;
		make-lz4)
			make -j"$jobs" -C lib lib-release
			make -C lib install PREFIX="$prefix" LIBDIR="$prefix/lib" ;;
		make-zstd)
			make -j"$jobs" -C lib libzstd
			make -C lib install-shared install-includes install-pc PREFIX="$prefix" LIBDIR="$prefix/lib" ;;
		esac
	) >"$log" 2>&1; then
		echo "run.sh: building $name/$suite failed; see $log" >&2
		tail -5 "$log" >&2
		return 1
	fi
	cp "$cache/src/$name-$suite.origin" "$prefix/.origin"
	touch "$prefix/.done"
	echo "$prefix"
}

# selected NAME [PAIR...]: whether NAME is among the pairs asked for (all when none).
selected() {
	local name=$1 p
	shift
	[ $# -eq 0 ] && return 0
	for p in "$@"; do [ "$p" = "$name" ] && return 0; done
	return 1
}

# seconds converts /usr/bin/time's [h:]mm:ss.cc to seconds.
# measure NAME CMD...: runs CMD under /usr/bin/time -v in the current
# directory, its outputs in $runs/NAME.{out,err,time,rc}.
measure() {
	local name=$1 rc
	shift
	set +e
	timeout 3600 /usr/bin/time -v -o "$runs/$name.time" "$@" >"$runs/$name.out" 2>"$runs/$name.err"
	rc=$?
	set -e
	echo "$rc" >"$runs/$name.rc"
}

# soname FILE: the DT_SONAME of FILE.
soname() { readelf -d "$1" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p'; }

# acc_descriptor VERSION PREFIX LIB HEADERS DEFINES: an ABI Compliance
# Checker descriptor of one side.
acc_descriptor() {
	local h
	echo "<version>$1</version>"
	echo "<headers>"
	for h in $4; do echo "$2/include/$h"; done
	echo "</headers>"
	echo "<include_paths>$2/include</include_paths>"
	echo "<libs>$3</libs>"
	[ -z "$5" ] || printf '<defines>\n%s\n</defines>\n' "$5"
}

# run_client NAME SIDE PREFIX: runs the pair's client against the library in
# PREFIX/lib; its output in $runs/NAME.client-SIDE.out, status in .rc. The
# library must resolve to PREFIX/lib, or the run does not count.
run_client() {
	local name=$1 side=$2 prefix=$3 rc resolved
	resolved=$(LD_LIBRARY_PATH=$prefix/lib ldd "$runs/$name.client" | awk -v l="$lib" '$1 == l { print $3 }')
	if [ "$resolved" != "$prefix/lib/$lib" ]; then
		echo "ERROR $lib resolves to '$resolved', not $prefix/lib/$lib" >"$runs/$name.client-$side.out"
		echo 125 >"$runs/$name.client-$side.rc"
		return
	fi
	set +e
	(cd "$runs" && LD_LIBRARY_PATH=$prefix/lib timeout 120 "$runs/$name.client") >"$runs/$name.client-$side.out" 2>&1
	rc=$?
	set -e
	echo "$rc" >"$runs/$name.client-$side.rc"
}

for p in "${pairs[@]}"; do
	IFS='|' read -r name src lib client cflags headers defines <<<"$p"
	selected "$name" "$@" || continue
	for s in "${suites[@]}"; do build "$src" "$s" >/dev/null || true; done
done
[ -z "$buildonly" ] || exit 0

cg="$cache/compatgate"
(cd "$root" && CGO_ENABLED=0 go build -o "$cg" ./cmd/compatgate) # static, as released
# Public headers for compatgate once it takes them (read whole: with pipefail,
# grep -q ending the pipe early, or a usage exit status, would hide them).
cgheaders=
cghelp=$("$cg" check --help 2>&1 || true)
case $cghelp in *headers-dir1*) cgheaders=1 ;; esac
runs=$cache/runs
for p in "${pairs[@]}"; do
	IFS='|' read -r name src lib client cflags headers defines <<<"$p"
	selected "$name" "$@" || continue
	rm -rf "${runs:?}/$name".*
	if ! op=$(build "$src" bookworm) || ! np=$(build "$src" trixie); then
		printf 'pair=%s\nerror=build of %s failed\n' "$name" "$src" >"$runs/$name.meta"
		continue
	fi
	old=$op/lib/$lib new=$np/lib/$lib
	oldv=$(head -1 "$op/.origin") newv=$(head -1 "$np/.origin")
	{
		printf 'pair=%s\nsource=%s\nold_version=%s\nnew_version=%s\n' "$name" "$src" "$oldv" "$newv"
		printf 'old_origin=%s\nnew_origin=%s\n' "$(tail -1 "$op/.origin")" "$(tail -1 "$np/.origin")"
		printf 'old_lib=%s\nnew_lib=%s\nold_soname=%s\nnew_soname=%s\n' "$old" "$new" "$(soname "$old")" "$(soname "$new")"
	} >"$runs/$name.meta"

	# The ground truth: the client, built against OLD, run against OLD and NEW.
	cc=gcc
	case $client in *.cc) cc=g++ ;; esac
	read -ra cf <<<"$cflags"
	if ! $cc -g -O2 -Wall -I"$op/include" -o "$runs/$name.client" "$here/clients/$client" -L"$op/lib" "${cf[@]}" \
		>"$runs/$name.client-build.out" 2>&1; then
		echo "error=client $client does not build against OLD; see $runs/$name.client-build.out" >>"$runs/$name.meta"
		continue
	fi
	run_client "$name" old "$op"
	run_client "$name" new "$np"

	# The checkers, each in a directory of its own.
	cgflags=()
	[ -z "$cgheaders" ] || cgflags=(--headers-dir1 "$op/include" --headers-dir2 "$np/include")
	measure "$name.compatgate" "$cg" check --format json "${cgflags[@]}" "$old" "$new"
	measure "$name.abidiff" abidiff --headers-dir1 "$op/include" --headers-dir2 "$np/include" "$old" "$new"
	acc=$runs/$name.acc.d
	mkdir -p "$acc"
	acc_descriptor "$oldv" "$op" "$old" "$headers" "$defines" >"$acc/old.xml"
	acc_descriptor "$newv" "$np" "$new" "$headers" "$defines" >"$acc/new.xml"
	(cd "$acc" && measure "$name.acc" abi-compliance-checker -l "$name" -old old.xml -new new.xml -binary \
		-report-path "$acc/report.html")
	echo "compatgate_headers=${cgheaders:-0}" >>"$runs/$name.meta"
done

(cd "$root" && go run ./bench/realworld/score "$runs" "$@")
