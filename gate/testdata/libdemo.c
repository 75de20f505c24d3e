/* libdemo: the gate's test library, built as version N with -DVERSION=N.
 * -DPRIVATE_STATE adds library-private writable state (not hot-applicable);
 * -DBIG_DATA grows the exported variable; -DDROP removes lib_extra
 * (incompatible). */
#ifndef VERSION
#define VERSION 1
#endif

#ifdef BIG_DATA
long demo_data[4];
#else
long demo_data[2];
#endif

#ifdef PRIVATE_STATE
static int calls;
#endif

int lib_version(void)
{
#ifdef PRIVATE_STATE
	calls++;
#endif
	volatile int v = VERSION;
	return v;
}

#ifndef DROP
int lib_extra(int x)
{
	return x + demo_data[0];
}
#endif
