//go:build linux && amd64

// Command soak hot-upgrades and reverts a 16-thread target many times and
// checks its results continuously.
//
// It compiles libver (version 1 and 2) and the target program from
// gate/inject/testdata with gcc, starts "target threads 16" (16 threads
// calling the library at full speed, verifying every result; one thread in
// nanosleep; the main thread blocked in read), then runs -cycles
// apply/revert cycles. After every apply and every revert it asks the
// target for a report: every thread must have moved to the expected
// version, with no wrong result, no EINTR and the exported counter intact.
//
// Usage (as root, from the repository root):
//
//	go run ./bench/soak [-cycles 200] [-threads 16] [-load N] [-cflags -fcf-protection=full]
//	go run ./bench/soak -zlib [-cycles 500] [-threads 4] [-load N]
//
// With -zlib it soaks the real zlib in python3 instead (see runZlib).
//
// With -load N, a separate hog process runs N threads, each allocating,
// filling and freeing blocks of random sizes with malloc and computing on
// them without pause, for the whole run: the machine's CPUs are
// oversubscribed while the target is upgraded and reverted.
//
// It prints the figures and exits 1 on any crash, wrong result or failed
// operation.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/compatgate/compatgate/gate/inject"
)

func main() {
	cycles := flag.Int("cycles", 200, "apply/revert cycles")
	threads := flag.Int("threads", 16, "worker threads in the target")
	src := flag.String("src", "gate/inject/testdata", "directory with libver.c and target.c")
	cflags := flag.String("cflags", "-fcf-protection=full", "extra gcc flags")
	load := flag.Int("load", 0, "threads of a concurrent malloc-and-compute hog process (0: none)")
	zlib := flag.Bool("zlib", false, "soak the real zlib (the system's 1.2.13 and trixie's 1.3.1) in python3 instead of libver")
	flag.Parse()
	var err error
	if *zlib {
		err = runZlib(*cycles, *threads, *load, *src)
	} else {
		err = run(*cycles, *threads, *load, *src, strings.Fields(*cflags))
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "soak: %v\n", err)
		os.Exit(1)
	}
}

func gcc(args ...string) error {
	out, err := exec.Command("gcc", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("gcc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

type stats struct {
	applies, reverts       int
	crashes, wrong, failed int
	stops                  []time.Duration
	opTimes                []time.Duration
}

// hogSource is the load: "hog N" runs N threads that malloc, fill, sum
// and free blocks of pseudo-random sizes forever.
const hogSource = `
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static void *hog(void *arg)
{
	unsigned long x = (unsigned long)arg * 2654435761u + 1, sum = 0;
	for (;;) {
		x = x * 6364136223846793005ul + 1442695040888963407ul;
		size_t n = 16 + (x >> 33) % 65536;
		unsigned char *p = malloc(n);
		if (p == NULL)
			abort();
		memset(p, (int)x, n);
		for (size_t i = 0; i < n; i += 64)
			sum += p[i] * 31 + i;
		free(p);
	}
	return (void *)sum;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 2;
	for (int i = 1; i < n; i++) {
		pthread_t t;
		pthread_create(&t, NULL, hog, (void *)(long)i);
	}
	hog(0);
	return 0;
}
`

// startLoad starts the hog with n threads, when n > 0, and returns what
// stops it.
func startLoad(dir string, n int) (stop func(), err error) {
	if n <= 0 {
		return func() {}, nil
	}
	hog, err := startHog(dir, n)
	if err != nil {
		return nil, err
	}
	fmt.Printf("load: %d malloc-and-compute threads in process %d\n", n, hog.Process.Pid)
	return func() { hog.Process.Kill(); hog.Wait() }, nil
}

// startHog compiles and starts the load process with n threads.
func startHog(dir string, n int) (*exec.Cmd, error) {
	src := filepath.Join(dir, "hog.c")
	if err := os.WriteFile(src, []byte(hogSource), 0o644); err != nil {
		return nil, err
	}
	bin := filepath.Join(dir, "hog")
	if err := gcc("-O2", "-pthread", "-o", bin, src); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, fmt.Sprint(n))
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return cmd, nil
}

func run(cycles, threads, load int, src string, cflags []string) error {
	dir, err := os.MkdirTemp("", "soak-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	v1 := filepath.Join(dir, "v1", "libver.so.1")
	v2 := filepath.Join(dir, "v2", "libver.so.1")
	for _, l := range []struct{ out, def string }{{v1, "-DVERSION=1"}, {v2, "-DVERSION=2"}} {
		os.MkdirAll(filepath.Dir(l.out), 0o755)
		args := append([]string{"-O2", "-fPIC", "-shared", "-Wl,-soname,libver.so.1", "-Wl,--build-id", l.def}, cflags...)
		if err := gcc(append(args, "-o", l.out, filepath.Join(src, "libver.c"))...); err != nil {
			return err
		}
	}
	tgt := filepath.Join(dir, "target")
	args := append([]string{"-O2", "-pthread"}, cflags...)
	if err := gcc(append(args, "-o", tgt, filepath.Join(src, "target.c"), v1, "-Wl,-rpath,"+filepath.Dir(v1))...); err != nil {
		return err
	}

	stop, err := startLoad(dir, load)
	if err != nil {
		return err
	}
	defer stop()
	tp, err := startProc(tgt, "threads", fmt.Sprint(threads))
	if err != nil {
		return err
	}
	defer tp.kill()
	ask := func(c string) (string, error) { return tp.ask(c, 10*time.Second) }
	if l, err := ask(""); err != nil || l != "ready" {
		return fmt.Errorf("target did not start: %q %v", l, err)
	}
	stateDir := filepath.Join(dir, "state")
	opt := inject.Options{StateDir: stateDir}
	ctx := context.Background()
	var st stats
	pid := tp.pid()
	counter := 5
	check := func(phase string, version int) error {
		l, err := ask("report")
		if err != nil {
			st.crashes++
			return err
		}
		want := fmt.Sprintf("report vmin=%d vmax=%d sleeper=%d eintr=0 errors=0 counter=%d", version, version, version, counter)
		if l != want {
			st.wrong++
			return fmt.Errorf("%s: target reported %q, want %q", phase, l, want)
		}
		return nil
	}
	start := time.Now()
	for i := 1; i <= cycles; i++ {
		t0 := time.Now()
		r := inject.Apply(ctx, pid, v1, v2, opt)
		st.opTimes = append(st.opTimes, time.Since(t0))
		st.applies++
		if r.Status != inject.StatusOK {
			st.failed++
			return report(st, start, fmt.Errorf("cycle %d: apply: %s: %s", i, r.Status, r.Reason))
		}
		st.stops = append(st.stops, time.Duration(r.StoppedMicros)*time.Microsecond)
		if err := check(fmt.Sprintf("cycle %d after apply", i), 2); err != nil {
			return report(st, start, err)
		}
		t0 = time.Now()
		r = inject.Revert(ctx, pid, v1, opt)
		st.opTimes = append(st.opTimes, time.Since(t0))
		st.reverts++
		if r.Status != inject.StatusOK {
			st.failed++
			return report(st, start, fmt.Errorf("cycle %d: revert: %s: %s", i, r.Status, r.Reason))
		}
		st.stops = append(st.stops, time.Duration(r.StoppedMicros)*time.Microsecond)
		if err := check(fmt.Sprintf("cycle %d after revert", i), 1); err != nil {
			return report(st, start, err)
		}
		if i%50 == 0 {
			fmt.Printf("cycle %d/%d ok\n", i, cycles)
		}
	}
	return report(st, start, nil)
}

func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(p*float64(len(s)-1))]
}

func report(st stats, start time.Time, err error) error {
	fmt.Printf("applies=%d reverts=%d crashes=%d wrong_results=%d failed_operations=%d elapsed=%v\n",
		st.applies, st.reverts, st.crashes, st.wrong, st.failed, time.Since(start).Round(time.Millisecond))
	fmt.Printf("operation time p50=%v p99=%v max=%v; world stopped p50=%v p99=%v max=%v\n",
		pct(st.opTimes, .5), pct(st.opTimes, .99), pct(st.opTimes, 1),
		pct(st.stops, .5), pct(st.stops, .99), pct(st.stops, 1))
	if err == nil && st.crashes+st.wrong+st.failed > 0 {
		err = fmt.Errorf("soak failed")
	}
	return err
}
