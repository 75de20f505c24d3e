/* libver: the test library. Built as version 1 and 2 (-DVERSION=N), and in
 * variants the engine must refuse (-DPRIVATE_STATE), that exit the
 * process while being loaded (-DEXIT_ON_LOAD) or that take too long to load
 * (-DSLOW_LOAD=MS), or that say "loading" on stdout and take 400ms to load
 * (-DANNOUNCE_LOAD: a window for the tests to act during dlopen; the same
 * with "unloading" during dlclose). */
#include <time.h>
#include <unistd.h>

#ifndef VERSION
#define VERSION 1
#endif

/* Exported, writable: must stay bound to the storage the process uses. The
 * initial value differs so that a NEW using its own copy is caught. */
#if VERSION == 1
int ver_counter = 0;
#else
int ver_counter = 100;
#endif

#ifdef PRIVATE_STATE
static int private_calls; /* library-private state: refused */
#endif

int ver_get(void)
{
#ifdef PRIVATE_STATE
	private_calls++;
#endif
	return VERSION;
}

/* Same result in every version: any other value is a wrong result. */
long ver_mix(long x)
{
	return x * 3 + 1;
}

int ver_bump(void)
{
	return ++ver_counter;
}

#define STR2(x) #x
#define STR(x) STR2(x)
/* A pointer into the library's read-only data, as a zlib stream keeps one
 * to its static tables: the caller may keep it past an upgrade's revert. */
#ifndef NO_NAME /* -DNO_NAME: a NEW that compatgate check finds incompatible */
const char *ver_name(void)
{
	return "libver " STR(VERSION);
}
#endif

/* Never returns, spinning in the library's own code. *entered is set once
 * the thread is inside. */
void ver_forever(volatile int *entered)
{
	volatile unsigned long n = 0;
	*entered = 1;
	for (;;)
		n++;
}

/* Blocks in read(2) called from the library: a return address into the
 * library stays on the stack. *entered is set once the thread is inside. */
void ver_block(int fd, volatile int *entered)
{
	char c;
	*entered = 1;
	while (read(fd, &c, 1) != 0)
		;
}

#ifdef TINY
/* Too short for a jump at its entry in version 1 (xor eax,eax; ret):
 * redirected through the importers' GOTs. */
int ver_tiny(void)
{
	return VERSION - 1;
}
#endif

#ifdef VARIANT
int ver_variant(void)
{
	return VARIANT;
}
#endif

#ifdef SLOW_LOAD
/* SLOW_LOAD is the constructor's sleep in milliseconds. */
__attribute__((constructor)) static void slow(void)
{
	struct timespec ts = {SLOW_LOAD / 1000, (SLOW_LOAD % 1000) * 1000L * 1000L};
	while (nanosleep(&ts, &ts) != 0)
		;
}
#endif

#ifdef EXIT_ON_LOAD
__attribute__((constructor)) static void exit_now(void)
{
	_exit(3);
}
#endif

#ifdef ANNOUNCE_LOAD
__attribute__((constructor)) static void announce(void)
{
	struct timespec ts = {0, 400 * 1000 * 1000};
	if (write(1, "loading\n", 8) != 8)
		return;
	while (nanosleep(&ts, &ts) != 0)
		;
}

/* The same on dlclose: "unloading", 400ms. */
__attribute__((destructor)) static void announce_unload(void)
{
	struct timespec ts = {0, 400 * 1000 * 1000};
	if (write(1, "unloading\n", 10) != 10)
		return;
	while (nanosleep(&ts, &ts) != 0)
		;
}
#endif
