/* stale: a thread that left OLD long ago but keeps, in a buffer of a frame
 * it now blocks in, the return address that OLD's call to read(2) pushed
 * (a word no scan of the stack can tell from a live frame); and a thread
 * really blocked inside OLD. Prints "stale TID" and "inside TID", then
 * "ready" once both threads are on their way to block. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

void ver_block(int fd, volatile int *entered);

static int done_pipe[2], park_pipe[2], inside_pipe[2];

/* Blocks in read with a frame whose buffer is never written: it keeps
 * whatever the deeper frames of ver_block left at its depth. */
__attribute__((noinline)) static void park(int fd)
{
	char buf[2048];
	char c;
	__asm__ volatile("" : : "r"(buf) : "memory");
	while (read(fd, &c, 1) != 0)
		;
}

/* Prints "NAME TID" for the calling thread. */
static void announce(const char *name)
{
	printf("%s %d\n", name, (int)gettid());
	fflush(stdout);
}

static void *stale(void *arg)
{
	volatile int entered = 0;
	(void)arg;
	announce("stale");
	/* Into OLD, which calls read: returns at once, the pipe closed. */
	ver_block(done_pipe[0], &entered);
	park(park_pipe[0]);
	return NULL;
}

static void *inside(void *arg)
{
	volatile int entered = 0;
	(void)arg;
	announce("inside");
	ver_block(inside_pipe[0], &entered);
	return NULL;
}

int main(void)
{
	pthread_t a, b;
	char line[64];
	if (pipe(done_pipe) || pipe(park_pipe) || pipe(inside_pipe))
		return 1;
	close(done_pipe[1]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	pthread_create(&a, NULL, stale, NULL);
	pthread_create(&b, NULL, inside, NULL);
	printf("ready\n");
	/* Any line, or the end of stdin, ends the program. */
	if (fgets(line, sizeof line, stdin) == NULL)
		line[0] = 0;
	close(park_pipe[1]);
	close(inside_pipe[1]);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	return 0;
}
