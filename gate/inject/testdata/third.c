/* third: a library the hammer target loads and unloads in a loop. Its
 * constructor and destructor run the program's kind of code (allocation, a
 * short loop) while the dynamic loader's lock is held. */
#include <stdlib.h>

static volatile unsigned long spins;
static void *kept;

__attribute__((constructor)) static void third_init(void)
{
	kept = malloc(64);
	for (int i = 0; i < 2000; i++)
		spins++;
}

__attribute__((destructor)) static void third_fini(void)
{
	free(kept);
	for (int i = 0; i < 2000; i++)
		spins++;
}

int third_get(void)
{
	return 3;
}
