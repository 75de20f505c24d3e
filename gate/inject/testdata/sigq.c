/* sigq: one thread, calling ver_get and polling stdin; an SA_SIGINFO
 * handler for SIGRTMIN+6 counts deliveries (G), those sent with kill (U,
 * si_code SI_USER), records the si_value of those sent with sigqueue
 * (si_code SI_QUEUE; any other code is bad), and checks si_pid is the
 * parent's. Prints "ready"; serves
 *   report N -> "report got=G user=U dup=D missing=M badcode=C badval=V badpid=P"
 * where D and M are about the sigqueue values 1..N. */
#define _GNU_SOURCE
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int ver_get(void);

#define MAXV (1 << 17)
static volatile unsigned char seen[MAXV];
static volatile long got, user, badcode, badval, badpid;

static void on_rt(int s, siginfo_t *si, void *uc)
{
	(void)s;
	(void)uc;
	got++;
	if (si->si_pid != getppid())
		badpid++;
	if (si->si_code == SI_USER) {
		user++;
		return;
	}
	if (si->si_code != SI_QUEUE)
		badcode++;
	int v = si->si_value.sival_int;
	if (v < 1 || v >= MAXV)
		badval++;
	else if (seen[v] < 255)
		seen[v]++;
}

int main(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_rt;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigaction(SIGRTMIN + 6, &sa, NULL);
	printf("ready\n");
	fflush(stdout);
	char line[128];
	size_t n = 0;
	for (;;) {
		if (ver_get() < 1)
			abort();
		struct pollfd p = {0, POLLIN, 0};
		if (poll(&p, 1, 1) <= 0)
			continue;
		ssize_t r = read(0, line + n, sizeof line - 1 - n);
		if (r <= 0) {
			if (r < 0)
				continue;
			return 0;
		}
		n += (size_t)r;
		line[n] = 0;
		char *nl = strchr(line, '\n');
		if (nl == NULL)
			continue;
		*nl = 0;
		long want = 0;
		if (sscanf(line, "report %ld", &want) == 1 && want < MAXV) {
			long dup = 0, missing = 0;
			for (long v = 1; v <= want; v++) {
				if (seen[v] == 0)
					missing++;
				else if (seen[v] > 1)
					dup++;
			}
			printf("report got=%ld user=%ld dup=%ld missing=%ld badcode=%ld badval=%ld badpid=%ld\n",
			       got, user, dup, missing, badcode, badval, badpid);
		} else {
			printf("unknown %s\n", line);
		}
		fflush(stdout);
		n = 0;
	}
}
