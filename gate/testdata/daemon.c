/* daemon: a long-running client of libdemo. It writes its PID to the PID
 * file argv[1], then, every 20 ms, calls lib_version() and, whenever the
 * value changes, appends "PID VERSION" to the file argv[2]. It reloads
 * nothing: a new version shows only by hot upgrade or restart. With
 * DEMO_PARK set in the environment, a second thread calls lib_park() and so
 * stays inside the library for good. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int lib_version(void);
void lib_park(void);

static void *park(void *arg)
{
	(void)arg;
	lib_park();
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp", argv[1]);
	FILE *p = fopen(tmp, "w");
	if (!p)
		return 1;
	fprintf(p, "%d\n", getpid());
	fclose(p);
	rename(tmp, argv[1]);
	pthread_t t;
	if (getenv("DEMO_PARK") && pthread_create(&t, NULL, park, NULL) != 0)
		return 1;
	int last = -1;
	struct timespec ts = {0, 20 * 1000 * 1000};
	for (;;) {
		int v = lib_version();
		if (v != last) {
			FILE *o = fopen(argv[2], "a");
			if (!o)
				return 1;
			fprintf(o, "%d %d\n", getpid(), v);
			fclose(o);
			last = v;
		}
		nanosleep(&ts, NULL);
	}
}
