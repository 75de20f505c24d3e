//go:build linux && amd64

package main

// targetSource is the measured program: "pause N PERIOD_US" starts N
// threads that each sleep PERIOD_US in a loop, call ver_get, and record the
// worst lateness of a wake-up (time slept beyond PERIOD_US): what a stop of
// the process costs a thread, seen from inside. The main thread serves
// stdin: "reset" zeroes the records, "max" prints "max US" (the worst over
// every thread since the last reset), "spread" makes every thread, at its
// next wake-up, sleep once more a random part of PERIOD_US (not recorded),
// which spreads the threads' wake-ups evenly over the period again after a
// stop of the process released them all at once.
//
// Built with -DZLIB (and the system's zlib), the N threads instead call
// zlib at full speed (compress2 and uncompress, checked), and 4 sleeper
// threads that never call a library measure the lateness: the stall of a
// non-library thread while the busy ones are upgraded.
const targetSource = `
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef ZLIB
typedef unsigned long uLong;
int compress2(unsigned char *, uLong *, const unsigned char *, uLong, int);
int uncompress(unsigned char *, uLong *, const unsigned char *, uLong);
#define ver_get() 1
static void *busy(void *arg)
{
	static __thread unsigned char text[16384], z[20000], back[16384];
	for (size_t i = 0; i < sizeof text; i++)
		text[i] = "the quick brown fox jumps over the lazy dog "[i % 44];
	for (;;) {
		uLong zl = sizeof z, bl = sizeof back;
		if (compress2(z, &zl, text, sizeof text, 6) != 0 || uncompress(back, &bl, z, zl) != 0 ||
		    memcmp(back, text, sizeof text) != 0)
			abort();
	}
	return arg;
}
#else
int ver_get(void);
#endif
static long period_ns;
static _Atomic long worst_ns;
static _Atomic int started;
static _Atomic long spread_gen;

static long now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static void *sleeper(void *arg)
{
	unsigned seed = (unsigned)(long)arg;
	long gen = 0;
	struct timespec ts = {period_ns / 1000000000L, period_ns % 1000000000L};
	atomic_fetch_add(&started, 1);
	for (;;) {
		long g = atomic_load(&spread_gen);
		if (g != gen) {
			long d = rand_r(&seed) % period_ns;
			struct timespec r = {d / 1000000000L, d % 1000000000L};
			gen = g;
			nanosleep(&r, NULL);
			continue;
		}
		long t0 = now();
		nanosleep(&ts, NULL);
		long late = now() - t0 - period_ns;
		if (ver_get() < 1)
			abort();
		long w = atomic_load(&worst_ns);
		while (late > w && !atomic_compare_exchange_weak(&worst_ns, &w, late))
			;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	int n = atoi(argv[1]);
	period_ns = atol(argv[2]) * 1000L;
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 64 << 10);
#ifdef ZLIB
	for (int i = 0; i < n; i++) {
		pthread_t t;
		if (pthread_create(&t, NULL, busy, NULL) != 0)
			return 1;
	}
	n = 4;
#endif
	for (int i = 0; i < n; i++) {
		pthread_t t;
		if (pthread_create(&t, &a, sleeper, (void *)(long)(i + 1)) != 0)
			return 1;
	}
	while (atomic_load(&started) < n)
		;
	printf("ready\n");
	fflush(stdout);
	char line[64];
	while (fgets(line, sizeof line, stdin) != NULL) {
		if (strncmp(line, "reset", 5) == 0) {
			atomic_store(&worst_ns, 0);
			printf("reset\n");
		} else if (strncmp(line, "spread", 6) == 0) {
			atomic_fetch_add(&spread_gen, 1);
			printf("spread\n");
		} else {
			printf("max %ld\n", atomic_load(&worst_ns) / 1000);
		}
		fflush(stdout);
	}
	return 0;
}
`
