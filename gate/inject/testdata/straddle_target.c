/* straddle_target: calls st_get (libstraddle) in a loop and prints
 * "version N" whenever the value changes; "ready" once running. */
#include <stdio.h>

int st_get(void);

int main(void)
{
	int last = 0;
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		int v = st_get();
		if (v != last) {
			printf("version %d\n", v);
			fflush(stdout);
			last = v;
		}
	}
}
