/* plugin: loads libver with dlopen(RTLD_LOCAL), as programs load plugins,
 * and calls it through dlsym. OLD is then not in the global scope, so a NEW
 * loaded beside it would bind its exported data to its own fresh copy: the
 * engine must refuse. Prints "ready", then "version N" on every change. */
#include <dlfcn.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		fprintf(stderr, "%s\n", dlerror());
		return 1;
	}
	int (*get)(void) = (int (*)(void))dlsym(h, "ver_get");
	int (*bump)(void) = (int (*)(void))dlsym(h, "ver_bump");
	if (get == NULL || bump == NULL)
		return 1;
	bump();
	printf("ready\n");
	fflush(stdout);
	int last = 0;
	for (;;) {
		int v = get();
		if (v != last) {
			printf("version %d\n", v);
			fflush(stdout);
			last = v;
		}
	}
}
