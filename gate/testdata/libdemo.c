/* libdemo: the gate's test library, built as version N with -DVERSION=N.
 * -DPRIVATE_STATE adds library-private writable state (not hot-applicable);
 * -DBIG_DATA grows the exported variable; -DDROP removes lib_extra
 * (incompatible); -DPRIVATE_LAYOUT grows the private struct behind the
 * opaque handle lib_open returns, -DSTATIC_LAYOUT the layout of the private
 * static struct -DSTATS adds (both compatible, not hot-applicable); lib_park
 * keeps the thread that calls it inside the library. */
#include <stdlib.h>
#include <time.h>

#ifndef VERSION
#define VERSION 1
#endif

#ifdef BIG_DATA
long demo_data[4];
#else
long demo_data[2];
#endif

#ifdef PRIVATE_STATE
static int calls;
#endif

int lib_version(void)
{
#ifdef PRIVATE_STATE
	calls++;
#endif
	volatile int v = VERSION;
	return v;
}

#ifndef DROP
int lib_extra(int x)
{
	return x + demo_data[0];
}
#endif

/* An opaque handle: clients see only "struct demo_handle *". Its
 * definition is private to the library, so a change in it is not the
 * clients' — but a hot upgrade hands handles OLD made to NEW's code. */
struct demo_handle {
	int refs;
#ifdef PRIVATE_LAYOUT
	long generation;
#endif
	int value;
};

#ifdef STATS
/* The library's own statistics, in .bss: no exported symbol reaches the
 * type. -DSTATIC_LAYOUT swaps its members (same size, another layout). */
struct demo_stats {
#ifdef STATIC_LAYOUT
	int failed;
	int opened;
#else
	int opened;
	int failed;
#endif
};
static struct demo_stats stats;
#endif

struct demo_handle *lib_open(void)
{
	struct demo_handle *h = calloc(1, sizeof *h);
#ifdef STATS
	if (h)
		stats.opened++;
	else
		stats.failed++;
#endif
	if (h)
		h->refs = 1;
	return h;
}

int lib_value(struct demo_handle *h)
{
	return h->value;
}

/* lib_park never returns: a thread that calls it stays inside the library
 * (asleep in nanosleep, its return address in lib_park). */
void lib_park(void)
{
	struct timespec ts = {1, 0};
	for (;;)
		nanosleep(&ts, NULL);
}
