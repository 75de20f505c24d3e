/* straddle: a library whose exported function st_get has its entry at
 * offset OFF of a 4096-aligned section, so that with OFF = 0xffc..0xfff
 * its first instructions cross a page boundary; built with
 * -fcf-protection=none (no endbr64). PAD fills the bytes before st_get
 * (0xcc: int3 padding, as the linker and assembler fill between functions;
 * 0x90: nops), FILL is the byte count of a function placed right before
 * st_get when no padding is wanted (then PAD is never used).
 *
 * st_get returns VERSION (push %rbp; mov %rsp,%rbp; mov $VERSION,%eax;
 * pop %rbp; ret), or with -DSHORT_BODY just mov $VERSION,%eax; ret: then
 * the bytes after the entry's word are 00 00 00, and the one-word scheme's
 * trampoline window falls inside the library itself. st_page returns
 * VERSION too and starts the section. */
#ifndef VERSION
#define VERSION 1
#endif
#ifndef OFF
#define OFF 0xffd
#endif
#ifndef PAD
#define PAD 0xcc
#endif
#define S(x) #x
#define XS(x) S(x)

__asm__(".section .text.straddle,\"ax\",@progbits\n"
	".p2align 12\n"
	".globl st_page\n"
	".type st_page, @function\n"
	"st_page:\n"
	"mov $" XS(VERSION) ", %eax\n"
	"ret\n"
	".size st_page, .-st_page\n"
#ifdef FILL
	".org " XS(OFF) " - " XS(FILL) ", 0xcc\n"
	".globl st_fill\n"
	".type st_fill, @function\n"
	"st_fill:\n"
	".fill " XS(FILL) " - 6, 1, 0x90\n"
	"mov $" XS(VERSION) ", %eax\n"
	"ret\n"
	".size st_fill, .-st_fill\n"
#else
	".org " XS(OFF) ", " XS(PAD) "\n"
#endif
	".globl st_get\n"
	".type st_get, @function\n"
	"st_get:\n"
#ifdef SHORT_BODY
	"mov $" XS(VERSION) ", %eax\n"
	"ret\n"
#else
	"push %rbp\n"
	"mov %rsp, %rbp\n"
	"mov $" XS(VERSION) ", %eax\n"
	"pop %rbp\n"
	"ret\n"
#endif
	".size st_get, .-st_get\n"
	".text\n");
