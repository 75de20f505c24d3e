/* zprog: a C program using the system's zlib (libz.so.1), driven by the
 * corpus tests through stdin/stdout. Declares what it uses of zlib itself,
 * so that zlib's headers are not needed.
 *
 *   zprog threads N    N workers compress and uncompress at full speed
 *   zprog mainexit     one worker; the main thread exits (pthread_exit)
 *                      and the worker serves the commands instead
 *   zprog signal N     N workers, and a SIGALRM handler called at 2 kHz
 *                      that computes a crc32 with zlib
 *
 * Commands: "ver" -> "ver V" (zlibVersion()); "wrong" -> "wrong E H"
 * (wrong results of the workers, signal handler runs). Prints "ready V". */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

typedef unsigned long uLong;
const char *zlibVersion(void);
int compress2(unsigned char *dest, uLong *destLen, const unsigned char *src, uLong srcLen, int level);
int uncompress(unsigned char *dest, uLong *destLen, const unsigned char *src, uLong srcLen);
uLong crc32(uLong crc, const unsigned char *buf, unsigned len);

static unsigned char text[16384];
static uLong textCRC;
static _Atomic unsigned long errors, handled;

static void *worker(void *arg)
{
	(void)arg;
	static __thread unsigned char z[20000], back[sizeof text];
	for (;;) {
		uLong zl = sizeof z, bl = sizeof back;
		if (compress2(z, &zl, text, sizeof text, 6) != 0 || uncompress(back, &bl, z, zl) != 0 ||
		    bl != sizeof text || memcmp(back, text, bl) != 0)
			atomic_fetch_add(&errors, 1);
	}
	return NULL;
}

static void onalarm(int sig)
{
	(void)sig;
	if (crc32(0, text, sizeof text) != textCRC)
		atomic_fetch_add(&errors, 1);
	atomic_fetch_add(&handled, 1);
}

static void serve(void)
{
	char line[64];
	while (fgets(line, sizeof line, stdin) != NULL) {
		if (strcmp(line, "ver\n") == 0)
			printf("ver %s\n", zlibVersion());
		else if (strcmp(line, "wrong\n") == 0)
			printf("wrong %lu %lu\n", atomic_load(&errors), atomic_load(&handled));
		else
			printf("unknown\n");
		fflush(stdout);
	}
	exit(0);
}

static void *server(void *arg)
{
	(void)arg;
	serve();
	return NULL;
}

static void start(void *(*fn)(void *))
{
	pthread_t t;
	if (pthread_create(&t, NULL, fn, NULL) != 0)
		abort();
}

int main(int argc, char **argv)
{
	for (size_t i = 0; i < sizeof text; i++)
		text[i] = "the quick brown fox jumps over the lazy dog "[i % 44] ^ (unsigned char)(i / 4096);
	textCRC = crc32(0, text, sizeof text);
	if (argc < 2)
		return 2;
	int n = argc > 2 ? atoi(argv[2]) : 1;
	if (strcmp(argv[1], "signal") == 0) {
		struct sigaction sa = {.sa_handler = onalarm, .sa_flags = SA_RESTART};
		sigaction(SIGALRM, &sa, NULL);
		struct itimerval it = {{0, 500}, {0, 500}};
		setitimer(ITIMER_REAL, &it, NULL);
	} else if (strcmp(argv[1], "mainexit") == 0) {
		n = 1;
	} else if (strcmp(argv[1], "threads") != 0) {
		return 2;
	}
	for (int i = 0; i < n; i++)
		start(worker);
	printf("ready %s\n", zlibVersion());
	fflush(stdout);
	if (strcmp(argv[1], "mainexit") == 0) {
		start(server);
		pthread_exit(NULL);
	}
	serve();
	return 0;
}
