// cxx: a C++ library for the odd cases, built as version 1 and 2
// (-DVERSION=N): an exception thrown out of the library, a cancellation
// point inside it, and a function whose patch site crosses a page
// boundary (cx_edge: endbr64 at page offset 4090, so the jump after it
// would span bytes 4094..4098).
#include <stdexcept>
#include <unistd.h>

#ifndef VERSION
#define VERSION 1
#endif
#define STR2(x) #x
#define STR(x) STR2(x)

extern "C" int cx_throw(int n)
{
	if (n > 0)
		throw std::runtime_error("v" STR(VERSION));
	return VERSION;
}

// Blocks in read(2), a cancellation point, inside the library.
extern "C" int cx_wait(int fd)
{
	char c;
	while (read(fd, &c, 1) != 0)
		;
	return VERSION;
}

__asm__(".text\n"
	".p2align 12\n"
	".skip 4090, 0xcc\n"
	".globl cx_edge\n"
	".type cx_edge, @function\n"
	"cx_edge:\n"
	"endbr64\n"
	"mov $" STR(VERSION) ", %eax\n"
	"ret\n"
	".size cx_edge, .-cx_edge\n");
