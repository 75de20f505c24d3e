/* handoff: a thread that can leave where it waits only once another
 * thread runs. The waiter blocks in read on a pipe; the poster waits for a
 * line on stdin (in poll), then writes the pipe. Both then sleep forever,
 * elsewhere. Prints "waiter TID", then "ready", both from the main thread,
 * in that order. */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

static int p[2];
static long waiterTID;
static sem_t known;

static void *waiter(void *arg)
{
	char c;
	(void)arg;
	waiterTID = (long)syscall(SYS_gettid);
	sem_post(&known);
	while (read(p[0], &c, 1) != 1)
		;
	for (;;)
		sleep(1000);
	return NULL;
}

static void *poster(void *arg)
{
	struct pollfd f = {.fd = 0, .events = POLLIN};
	(void)arg;
	while (poll(&f, 1, -1) != 1)
		;
	if (write(p[1], "x", 1) != 1)
		abort();
	for (;;)
		sleep(1000);
	return NULL;
}

int main(void)
{
	pthread_t a, b;
	if (sem_init(&known, 0, 0) != 0 || pipe(p) != 0 || pthread_create(&a, NULL, waiter, NULL) != 0 ||
	    pthread_create(&b, NULL, poster, NULL) != 0)
		return 1;
	while (sem_wait(&known) != 0)
		;
	printf("waiter %ld\nready\n", waiterTID);
	fflush(stdout);
	pthread_join(a, NULL);
	return 0;
}
