/* The library of the golden dump golden-v1.abi.json (see golden_test.go). */
#include <stddef.h>

typedef enum { RED, GREEN = 5, BLUE } color;

struct point {
	int x, y;
	unsigned flags : 3;
	unsigned mode : 5;
	color c;
	union { long l; double d; } u;
	struct point *next;
	int (*cb)(const struct point *, ...);
	char name[8];
	double tail[];
};

struct opaque;

const int answer = 42;
struct point origin;

int point_sum(const struct point *p) { return p->x + p->y; }
struct opaque *opaque_new(size_t n) { (void)n; return NULL; }
double legacy(int a, double b) { return a + b; }
double modern(int a, double b) { return a * b; }
__asm__(".symver legacy, scale@GOLDEN_1");
__asm__(".symver modern, scale@@GOLDEN_2");
