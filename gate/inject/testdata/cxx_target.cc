// cxx_target: calls libcxx from a thread catching its exceptions; on
// "report" it cancels a thread blocked in the library and prints
// "report ex=E edge=G ver=V cancel=ok|FAILED errors=X" (E: the version in
// the last exception's message, G: cx_edge(), V: cx_throw(0)).
#include <atomic>
#include <cstdio>
#include <cstring>
#include <pthread.h>
#include <stdexcept>
#include <unistd.h>

extern "C" int cx_throw(int);
extern "C" int cx_wait(int);
extern "C" int cx_edge(void);

static std::atomic<int> last_ex{0};
static std::atomic<unsigned long> rounds{0}, errors{0};

static void *thrower(void *)
{
	for (;;) {
		try {
			cx_throw(1);
			errors++;
		} catch (const std::runtime_error &e) {
			last_ex = e.what()[1] - '0';
		}
		rounds++;
	}
	return nullptr;
}

static void *waiter(void *arg)
{
	cx_wait(*static_cast<int *>(arg));
	return nullptr;
}

static void fresh_round()
{
	unsigned long before = rounds;
	while (rounds == before)
		usleep(1000);
}

int main()
{
	pthread_t t;
	if (pthread_create(&t, nullptr, thrower, nullptr) != 0)
		return 1;
	fresh_round();
	std::printf("ready\n");
	std::fflush(stdout);
	char line[256];
	while (std::fgets(line, sizeof line, stdin) != nullptr) {
		if (std::strncmp(line, "report", 6) != 0)
			continue;
		fresh_round();
		int fds[2];
		if (pipe(fds) != 0)
			return 1;
		pthread_t w;
		void *ret = nullptr;
		bool ok = pthread_create(&w, nullptr, waiter, &fds[0]) == 0 &&
			  pthread_cancel(w) == 0 && pthread_join(w, &ret) == 0 && ret == PTHREAD_CANCELED;
		close(fds[0]);
		close(fds[1]);
		std::printf("report ex=%d edge=%d ver=%d cancel=%s errors=%lu\n", last_ex.load(), cx_edge(),
			    cx_throw(0), ok ? "ok" : "FAILED", errors.load());
		std::fflush(stdout);
	}
	return 0;
}
