/* hard: the hard cases of the injection engine, driven through a pipe.
 *
 *   hard regs K     K threads (1..8) spinning in assembly with live values in
 *                   xmm/ymm0-14 (ymm with -DUSE_AVX2), r12-r15, a non-default
 *                   MXCSR and 15 words below RSP (the red zone), checking all
 *                   of them on every round.
 *   hard signals    one thread spinning in its own code; SIGUSR1 and SIGRTMIN
 *                   handlers count deliveries (the SIGUSR1 one calls ver_get).
 *   hard phdr       one thread blocked in read(0) inside a dl_iterate_phdr
 *                   callback (it holds the loader's write lock) until a line
 *                   arrives, the main thread in pthread_join; then that thread
 *                   serves the commands.
 *   hard churn      a thread creating short-lived threads without pause, each
 *                   calling ver_get/ver_mix once and exiting.
 *   hard hammer N LIB  N threads each malloc/free-ing, dlopen/dlclose-ing LIB and
 *                   walking dl_iterate_phdr with a spinning callback, in a loop;
 *                   one thread checking ver_get/ver_mix.
 *
 * The main thread prints "ready", then serves commands read from stdin:
 *   tids    -> "tids T1 T2 ..."  (the spinning threads)
 *   report  -> regs:    "report rounds=ok errors=E" once every spinner made a fresh round
 *              signals: "report usr1=N rt=M hv=V" (V: ver_get() in the last SIGUSR1 handler)
 *   ver     -> "ver V"
 *   check   -> hammer, churn: "check v=V errors=E" once a fresh call was made */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int ver_get(void);
long ver_mix(long);

#define MAXS 8
static int nspin;
static _Atomic int tids[MAXS];
static volatile unsigned long rounds[MAXS];
static volatile unsigned long errors;
static uint64_t patterns[MAXS][15 * 4 + 4 + 15] __attribute__((aligned(32)));

/* spin_regs(pat, rounds, errors): never returns. pat holds 15 32-byte
 * register values, 4 general-register values and 15 red-zone words. */
void spin_regs(const uint64_t *pat, volatile unsigned long *rounds, volatile unsigned long *errors);

#ifdef USE_AVX2
#define LOADV(i) "vmovdqu " #i "*32(%rdi), %ymm" #i "\n"
#define CHECKV(i)                                     \
	"vpxor " #i "*32(%rdi), %ymm" #i ", %ymm15\n" \
	"vptest %ymm15, %ymm15\n"                     \
	"jnz 9f\n"
#else
#define LOADV(i) "movdqu " #i "*32(%rdi), %xmm" #i "\n"
#define CHECKV(i)                           \
	"movdqa %xmm" #i ", %xmm15\n"       \
	"pcmpeqb " #i "*32(%rdi), %xmm15\n" \
	"pmovmskb %xmm15, %eax\n"           \
	"cmp $0xffff, %eax\n"               \
	"jne 9f\n"
#endif
#define LOADR(i, r) "mov 480+" #i "*8(%rdi), %" r "\n"
#define CHECKR(i, r) "cmp 480+" #i "*8(%rdi), %" r "\n jne 9f\n"
#define LOADZ(i) "mov 512+" #i "*8(%rdi), %rax\n mov %rax, -8-" #i "*8(%rsp)\n"
#define CHECKZ(i) "mov -8-" #i "*8(%rsp), %rax\n cmp 512+" #i "*8(%rdi), %rax\n jne 9f\n"

__asm__(".text\n"
	".globl spin_regs\n"
	".type spin_regs, @function\n"
	"spin_regs:\n"
	"0:\n"
	/* MXCSR: round toward zero, flush to zero, all exceptions masked. */
	"movl $0xff80, -128(%rsp)\n"
	"ldmxcsr -128(%rsp)\n"
	LOADV(0) LOADV(1) LOADV(2) LOADV(3) LOADV(4) LOADV(5) LOADV(6) LOADV(7)
	LOADV(8) LOADV(9) LOADV(10) LOADV(11) LOADV(12) LOADV(13) LOADV(14)
	LOADR(0, "r12") LOADR(1, "r13") LOADR(2, "r14") LOADR(3, "r15")
	LOADZ(0) LOADZ(1) LOADZ(2) LOADZ(3) LOADZ(4) LOADZ(5) LOADZ(6) LOADZ(7)
	LOADZ(8) LOADZ(9) LOADZ(10) LOADZ(11) LOADZ(12) LOADZ(13) LOADZ(14)
	"1:\n"
	CHECKV(0) CHECKV(1) CHECKV(2) CHECKV(3) CHECKV(4) CHECKV(5) CHECKV(6) CHECKV(7)
	CHECKV(8) CHECKV(9) CHECKV(10) CHECKV(11) CHECKV(12) CHECKV(13) CHECKV(14)
	CHECKR(0, "r12") CHECKR(1, "r13") CHECKR(2, "r14") CHECKR(3, "r15")
	CHECKZ(0) CHECKZ(1) CHECKZ(2) CHECKZ(3) CHECKZ(4) CHECKZ(5) CHECKZ(6) CHECKZ(7)
	CHECKZ(8) CHECKZ(9) CHECKZ(10) CHECKZ(11) CHECKZ(12) CHECKZ(13) CHECKZ(14)
	"stmxcsr -128(%rsp)\n"
	"cmpl $0xff80, -128(%rsp)\n"
	"jne 9f\n"
	"lock incq (%rsi)\n"
	"jmp 1b\n"
	"9:\n"
	"lock incq (%rdx)\n"
	"jmp 0b\n"
	".size spin_regs, .-spin_regs\n");

static void *spinner(void *arg)
{
	int i = (int)(long)arg;
	uint64_t *p = patterns[i];
	for (int k = 0; k < 15 * 4 + 4 + 15; k++)
		p[k] = 0x9e3779b97f4a7c15ULL * (uint64_t)(i * 1000 + k + 1) ^ 0xa5a5a5a5a5a5a5a5ULL;
	atomic_store(&tids[i], (int)syscall(SYS_gettid));
	spin_regs(p, &rounds[i], &errors);
	return NULL;
}

static int sigmode;
static volatile int sig_usr1, sig_rt, handler_ver;

static void on_usr1(int s)
{
	(void)s;
	handler_ver = ver_get();
	sig_usr1++;
}

static void on_rt(int s)
{
	(void)s;
	sig_rt++;
}

static void *plain_spinner(void *arg)
{
	(void)arg;
	atomic_store(&tids[0], (int)syscall(SYS_gettid));
	for (volatile unsigned long n = 0;; n++)
		rounds[0] = n;
	return NULL;
}

static int phdr_blocked(struct dl_phdr_info *info, size_t size, void *arg)
{
	char c;
	(void)info, (void)size, (void)arg;
	if (write(1, "ready\n", 6) != 6)
		abort();
	while (read(0, &c, 1) == 1 && c != '\n')
		;
	return 1; /* stop the walk */
}

static int phdr_spin(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)info, (void)size;
	for (int i = 0; i < 200; i++)
		(*(volatile unsigned long *)arg)++;
	return 0;
}

static const char *hammer_lib;
static volatile int checked_ver;

static void *hammer(void *arg)
{
	unsigned long n = 0, x = (unsigned long)arg * 2654435761u + 1;
	void *keep[16] = {0};
	for (;;) {
		for (int i = 0; i < 64; i++) {
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			int k = (int)(x >> 60);
			free(keep[k]);
			keep[k] = malloc((x >> 33) % 4096 + 1);
		}
		void *h = dlopen(hammer_lib, RTLD_NOW | RTLD_LOCAL);
		if (h == NULL) {
			fprintf(stderr, "dlopen: %s\n", dlerror());
			abort();
		}
		int (*get)(void) = (int (*)(void))dlsym(h, "third_get");
		if (get == NULL || get() != 3)
			errors++;
		dlclose(h);
		dl_iterate_phdr(phdr_spin, &n);
	}
	return NULL;
}

static void *checker(void *arg)
{
	(void)arg;
	atomic_store(&tids[0], (int)syscall(SYS_gettid));
	for (long x = 0;; x++) {
		int v = ver_get();
		if ((v != 1 && v != 2) || ver_mix(x) != x * 3 + 1)
			errors++;
		checked_ver = v;
		rounds[0]++;
	}
	return NULL;
}

/* arg: 2*x, +1 for a detached thread, which records no version (it may be
 * delayed past a later joined thread's turn) */
static void *churned(void *arg)
{
	long x = (long)arg / 2;
	int v = ver_get();
	if ((v != 1 && v != 2) || ver_mix(x) != x * 3 + 1)
		errors++;
	if ((long)arg % 2 == 0) {
		checked_ver = v;
		rounds[0]++;
	}
	return NULL;
}

static void *churner(void *arg)
{
	(void)arg;
	atomic_store(&tids[0], (int)syscall(SYS_gettid));
	for (long x = 0;; x++) {
		pthread_t t;
		if (pthread_create(&t, NULL, churned, (void *)(2 * x)) != 0)
			abort();
		pthread_join(t, NULL);
		if (x % 4 == 0) {
			/* and some that outlive their creator's next turn */
			if (pthread_create(&t, NULL, churned, (void *)(2 * x + 1)) != 0)
				abort();
			pthread_detach(t);
		}
	}
	return NULL;
}

static void fresh_rounds(void)
{
	unsigned long before[MAXS];
	for (int i = 0; i < nspin; i++)
		before[i] = rounds[i];
	for (int i = 0; i < nspin; i++)
		while (rounds[i] == before[i]) {
			struct timespec ts = {0, 1000 * 1000};
			nanosleep(&ts, NULL);
		}
}

static void serve(void);

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "phdr") == 0) {
		dl_iterate_phdr(phdr_blocked, NULL);
		printf("outside\n");
		fflush(stdout);
		nspin = 0;
		serve();
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "churn") == 0) {
		nspin = 1;
		pthread_t t;
		if (pthread_create(&t, NULL, churner, NULL) != 0)
			abort();
		fresh_rounds();
		printf("ready\n");
		fflush(stdout);
		serve();
		return 0;
	}
	if (argc > 3 && strcmp(argv[1], "hammer") == 0) {
		int n = atoi(argv[2]);
		hammer_lib = argv[3];
		nspin = 1;
		pthread_t t;
		if (pthread_create(&t, NULL, checker, NULL) != 0)
			abort();
		for (long i = 0; i < n; i++)
			if (pthread_create(&t, NULL, hammer, (void *)i) != 0)
				abort();
		fresh_rounds();
		printf("ready\n");
		fflush(stdout);
		serve();
		return 0;
	}
	sigmode = argc > 1 && strcmp(argv[1], "signals") == 0;
	if (argc < 2 || (!sigmode && strcmp(argv[1], "regs") != 0))
		return 2;
	nspin = sigmode ? 1 : (argc > 2 ? atoi(argv[2]) : 2);
	if (nspin < 1 || nspin > MAXS)
		return 2;
	if (sigmode) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_flags = SA_RESTART;
		sa.sa_handler = on_usr1;
		sigaction(SIGUSR1, &sa, NULL);
		sa.sa_handler = on_rt;
		sigaction(SIGRTMIN, &sa, NULL);
	}
	for (int i = 0; i < nspin; i++) {
		pthread_t t;
		if (pthread_create(&t, NULL, sigmode ? plain_spinner : spinner, (void *)(long)i) != 0)
			abort();
	}
	fresh_rounds();
	fresh_rounds();
	printf("ready\n");
	fflush(stdout);
	serve();
	return 0;
}

static void serve(void)
{
	char line[256];
	while (fgets(line, sizeof line, stdin) != NULL) {
		line[strcspn(line, "\n")] = 0;
		if (strcmp(line, "tids") == 0) {
			printf("tids");
			for (int i = 0; i < nspin; i++)
				printf(" %d", atomic_load(&tids[i]));
			printf("\n");
		} else if (strcmp(line, "report") == 0) {
			fresh_rounds();
			if (sigmode)
				printf("report usr1=%d rt=%d hv=%d\n", sig_usr1, sig_rt, handler_ver);
			else
				printf("report rounds=ok errors=%lu\n", errors);
		} else if (strcmp(line, "ver") == 0) {
			printf("ver %d\n", ver_get());
		} else if (strcmp(line, "check") == 0) {
			/* two fresh rounds: the second call began after the request */
			fresh_rounds();
			fresh_rounds();
			printf("check v=%d errors=%lu\n", checked_ver, errors);
		} else {
			printf("unknown %s\n", line);
		}
		fflush(stdout);
	}
	exit(0);
}
