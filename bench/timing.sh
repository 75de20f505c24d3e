# bench/timing.sh: sourced by bench/compare and bench/scale, which time the
# tools under /usr/bin/time -v. Wall times measured on a busy machine do
# not compare across tools: a tool that waits for a CPU loses time in
# proportion to how long it runs, and one on one thread loses it
# differently from one on several, so the ratios of wall times move with
# whatever else runs. timed_run measures how much CPU other processes took
# while a tool ran, and load_note says it under the scripts' tables.

# time_fields FILE prints, from the /usr/bin/time -v report FILE, the wall
# time (s), the user and system CPU times (s) and the peak RSS (KiB).
time_fields() {
	awk '/Elapsed \(wall clock\)/ { n = split($NF, p, ":"); w = 0; for (i = 1; i <= n; i++) w = w * 60 + p[i] }
		/User time \(seconds\)/ { u = $NF } /System time \(seconds\)/ { s = $NF }
		/Maximum resident set size/ { r = $NF } END { printf "%.2f %s %s %s\n", w, u, s, r }' "$1"
}

# busy_ticks prints the CPU time, in clock ticks, all CPUs spent busy
# since boot (/proc/stat: every state but idle and iowait).
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }

# other_cpu and measured_wall accumulate, over the timed runs, the CPU
# seconds of other processes and the wall seconds measured.
other_cpu=0 measured_wall=0

# timed_run TIMEFILE CMD...: runs CMD under /usr/bin/time -v -o TIMEFILE and
# adds to other_cpu the busy time the machine spent beside CMD's own. Its
# exit status is CMD's (/usr/bin/time's).
timed_run() {
	local tf=$1 before after rc wall user sys; shift
	before=$(busy_ticks)
	rc=0
	/usr/bin/time -v -o "$tf" "$@" || rc=$?
	after=$(busy_ticks)
	read -r wall user sys _ <<<"$(time_fields "$tf")"
	read -r other_cpu measured_wall <<<"$(awk -v b="$before" -v a="$after" -v hz="$(getconf CLK_TCK)" \
		-v own="$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')" -v w="$wall" -v o="$other_cpu" -v m="$measured_wall" \
		'BEGIN { x = (a - b) / hz - own; if (x < 0) x = 0; print o + x, m + w }')"
	return "$rc"
}

# load_note prints, after a table, how many CPUs other processes kept
# busy on average while the tools ran, and a warning above half a CPU.
load_note() {
	awk -v o="$other_cpu" -v m="$measured_wall" -v n="$(nproc)" 'BEGIN {
		avg = (m > 0 ? o / m : 0)
		printf "\nWhile the tools ran, other processes kept %.2f of the %d CPUs busy on average.\n", avg, n
		if (avg > 0.5) print "**The machine was busy: the wall times, and their ratios, are not representative.**"
	}'
}
