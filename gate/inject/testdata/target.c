/* target: a program using libver, driven by the tests through a pipe.
 *
 *   target loop         one thread calling ver_get; prints "version N" on change
 *   target sleep        one thread in a nanosleep loop, calling ver_get between
 *                       sleeps; prints "version N" on change, "error eintr" on EINTR
 *   target threads N    N workers (0..64) at full speed, one thread in nanosleep, the
 *                       main thread blocked in read(0) serving commands:
 *                         report -> "report vmin=A vmax=B sleeper=S eintr=E errors=X counter=C"
 *                         bump   -> "bump R C" (R = ver_bump(), C = ver_counter)
 *                         keep   -> "keep S": S = ver_name(), kept
 *                         name   -> "name K S": K the string kept, S = ver_name()
 *   target forever      like loop, plus a thread spinning in ver_forever()
 *   target block        like loop, plus a thread blocked in ver_block()
 *   target tiny         (built with -DTINY) calls ver_tiny in a loop, through
 *                       its PLT and a function pointer read from its GOT
 *                       at start; prints "tiny N P" on change (N from the
 *                       PLT call, P from the pointer)
 *   target mainexit     like loop, in a second thread: the main thread exits
 *                       (pthread_exit), leaving a zombie leader
 * Every mode prints "ready" once running (forever, block: once the thread
 * is inside the library). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern int ver_counter;
int ver_get(void);
long ver_mix(long);
int ver_bump(void);
void ver_forever(volatile int *);
void ver_block(int, volatile int *);
const char *ver_name(void);

#define MAXW 64
static int nworkers;
static _Atomic unsigned long seq[MAXW + 1]; /* last slot: the sleeper */
static _Atomic int last[MAXW + 1];
static _Atomic unsigned long errors, eintrs;
static volatile int entered; /* set by libver once a thread is inside it */
static const char *kept;     /* see "keep" */

static void *worker(void *arg)
{
	int i = (int)(long)arg;
	for (long x = 0;; x++) {
		int v = ver_get();
		if ((v != 1 && v != 2) || ver_mix(x) != x * 3 + 1)
			atomic_fetch_add(&errors, 1);
		atomic_store(&last[i], v);
		atomic_fetch_add(&seq[i], 1);
	}
	return NULL;
}

static void *sleeper(void *arg)
{
	(void)arg;
	for (;;) {
		struct timespec ts = {0, 100 * 1000 * 1000};
		if (nanosleep(&ts, NULL) != 0 && errno == EINTR)
			atomic_fetch_add(&eintrs, 1);
		atomic_store(&last[MAXW], ver_get());
		atomic_fetch_add(&seq[MAXW], 1);
	}
	return NULL;
}

static void *spin(void *arg)
{
	(void)arg;
	ver_forever(&entered);
	return NULL;
}

static void *block(void *arg)
{
	int p[2];
	(void)arg;
	if (pipe(p) != 0)
		abort();
	ver_block(p[0], &entered); /* nobody writes: blocks for ever */
	return NULL;
}

static void loop(void);

static void *looper(void *arg)
{
	(void)arg;
	loop();
	return NULL;
}

static void start(void *(*fn)(void *), long arg)
{
	pthread_t t;
	if (pthread_create(&t, NULL, fn, (void *)arg) != 0)
		abort();
}

static void loop(void)
{
	int lastv = 0;
	for (long x = 0;; x++) {
		int v = ver_get();
		if (v != lastv) {
			printf("version %d\n", v);
			fflush(stdout);
			lastv = v;
		}
		if (ver_mix(x) != x * 3 + 1) {
			printf("error mix\n");
			fflush(stdout);
		}
	}
}

/* wait until every thread made a fresh call */
static void settle(void)
{
	unsigned long before[MAXW + 1];
	for (int i = 0; i <= MAXW; i++)
		before[i] = atomic_load(&seq[i]);
	for (int i = 0; i <= MAXW; i++) {
		if (i >= nworkers && i != MAXW)
			continue;
		while (atomic_load(&seq[i]) == before[i]) {
			struct timespec ts = {0, 1000 * 1000};
			nanosleep(&ts, NULL);
		}
	}
}

static void serve(void)
{
	char line[256];
	size_t n = 0;
	for (;;) {
		ssize_t r = read(0, line + n, sizeof line - 1 - n);
		if (r < 0 && errno == EINTR) {
			atomic_fetch_add(&eintrs, 1);
			continue;
		}
		if (r <= 0)
			exit(0);
		n += (size_t)r;
		char *nl;
		while ((nl = memchr(line, '\n', n)) != NULL) {
			*nl = 0;
			if (strcmp(line, "report") == 0) {
				settle();
				int vmin = 99, vmax = -1;
				for (int i = 0; i < nworkers; i++) {
					int v = atomic_load(&last[i]);
					vmin = v < vmin ? v : vmin;
					vmax = v > vmax ? v : vmax;
				}
				printf("report vmin=%d vmax=%d sleeper=%d eintr=%lu errors=%lu counter=%d\n",
				       vmin, vmax, atomic_load(&last[MAXW]), atomic_load(&eintrs),
				       atomic_load(&errors), ver_counter);
			} else if (strcmp(line, "bump") == 0) {
				int r2 = ver_bump();
				printf("bump %d %d\n", r2, ver_counter);
			} else if (strcmp(line, "keep") == 0) {
				kept = ver_name();
				printf("keep %s\n", kept);
			} else if (strcmp(line, "name") == 0) {
				printf("name %s %s\n", kept ? kept : "-", ver_name());
			} else {
				printf("unknown %s\n", line);
			}
			fflush(stdout);
			size_t used = (size_t)(nl - line) + 1;
			memmove(line, nl + 1, n - used);
			n -= used;
		}
	}
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	if (strcmp(argv[1], "threads") == 0) {
		nworkers = argc > 2 ? atoi(argv[2]) : 16;
		if (nworkers < 0 || nworkers > MAXW)
			return 2;
		for (int i = 0; i < 5; i++)
			ver_bump();
		for (int i = 0; i < nworkers; i++)
			start(worker, i);
		start(sleeper, 0);
		settle();
		printf("ready\n");
		fflush(stdout);
		serve();
	}
	if (strcmp(argv[1], "sleep") == 0) {
		printf("ready\n");
		fflush(stdout);
		for (int lastv = 0;;) {
			int v = ver_get();
			if (v != lastv) {
				printf("version %d\n", v);
				fflush(stdout);
				lastv = v;
			}
			struct timespec ts = {0, 20 * 1000 * 1000};
			if (nanosleep(&ts, NULL) != 0 && errno == EINTR) {
				printf("error eintr\n");
				fflush(stdout);
			}
		}
	}
#ifdef TINY
	if (strcmp(argv[1], "tiny") == 0) {
		int ver_tiny(void);
		int (*volatile early)(void) = ver_tiny; /* taken before any upgrade */
		printf("ready\n");
		fflush(stdout);
		for (int lastn = -1, lastp = -1;;) {
			int n = ver_tiny(), p = early();
			if (n != lastn || p != lastp) {
				printf("tiny %d %d\n", n, p);
				fflush(stdout);
				lastn = n;
				lastp = p;
			}
		}
	}
#endif
	if (strcmp(argv[1], "mainexit") == 0) {
		printf("ready\n");
		fflush(stdout);
		start(looper, 0);
		pthread_exit(NULL);
	}
	if (strcmp(argv[1], "forever") == 0)
		start(spin, 0);
	else if (strcmp(argv[1], "block") == 0)
		start(block, 0);
	else if (strcmp(argv[1], "loop") != 0)
		return 2;
	else
		entered = 1;
	while (!entered) {
		struct timespec ts = {0, 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	printf("ready\n");
	fflush(stdout);
	loop();
	return 0;
}
