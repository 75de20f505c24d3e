//go:build linux && amd64

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/compatgate/compatgate/gate/inject"
	"github.com/compatgate/compatgate/internal/debian"
)

// runZlib soaks the real zlib: bookworm's (the system's, as python3 maps
// it) and trixie's 1.3.1 (fetched with internal/debian), in Debian's
// python3 running gate/inject/testdata/corpus.py with threads workers. Each
// cycle applies (drain model) and reverts, and after each checks that
// zlib reports the expected version, that every long-lived stream (a
// compressor and a decompressor fed in step, up to 16, made under either
// build) gives right results, and that a new stream is made; at the end,
// that no worker saw a wrong result.
func runZlib(cycles, threads, load int, src string) error {
	dir, err := os.MkdirTemp("", "soak-zlib-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	a, err := debian.Open(ctx, "")
	if err != nil {
		return err
	}
	x, err := a.Extract(ctx, "zlib1g/trixie")
	if err != nil {
		return err
	}
	newLib, err := filepath.EvalSymlinks(filepath.Join(x, "usr/lib/x86_64-linux-gnu/libz.so.1"))
	if err != nil {
		return err
	}
	stop, err := startLoad(dir, load)
	if err != nil {
		return err
	}
	defer stop()
	py, err := startProc("/usr/bin/python3", filepath.Join(src, "corpus.py"), "zlib", fmt.Sprint(threads))
	if err != nil {
		return err
	}
	defer py.kill()
	var st stats
	ask := func(c, want string) error {
		l, err := py.ask(c, time.Minute)
		if err != nil {
			st.crashes++
			return err
		}
		if want != "" && l != want {
			st.wrong++
			return fmt.Errorf("%q: got %q, want %q", c, l, want)
		}
		return nil
	}
	if err := ask("", "ready 1.2.13"); err != nil {
		return err
	}
	oldLib := ""
	maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", py.pid()))
	if err != nil {
		return err
	}
	for _, l := range strings.Split(string(maps), "\n") {
		if f := strings.Fields(l); len(f) == 6 && strings.HasPrefix(filepath.Base(f[5]), "libz.so.1") {
			oldLib = f[5]
		}
	}
	fmt.Printf("python3 %d with %d zlib threads: %s -> %s\n", py.pid(), threads, oldLib, newLib)
	opt := inject.Options{StateDir: filepath.Join(dir, "state"), Drain: true}
	pid := py.pid()
	streams, drained := 0, 0
	start := time.Now()
	step := func(i int, apply bool) error {
		what, lib, ver := "revert", oldLib, "1.2.13"
		t0 := time.Now()
		var r inject.Result
		if apply {
			what, lib, ver = "apply", newLib, "1.3.1"
			r = inject.Apply(ctx, pid, oldLib, lib, opt)
			st.applies++
		} else {
			r = inject.Revert(ctx, pid, oldLib, opt)
			st.reverts++
		}
		st.opTimes = append(st.opTimes, time.Since(t0))
		if r.Status != inject.StatusOK {
			st.failed++
			return fmt.Errorf("cycle %d: %s: %s: %s", i, what, r.Status, r.Reason)
		}
		drained += r.Draining
		st.stops = append(st.stops, time.Duration(r.StoppedMicros)*time.Microsecond)
		if err := ask("ver", "ver "+ver); err != nil {
			return fmt.Errorf("cycle %d after %s: %w", i, what, err)
		}
		if err := ask("use", "use True"); err != nil {
			return fmt.Errorf("cycle %d after %s: %w", i, what, err)
		}
		streams++
		if err := ask("new", ""); err != nil {
			return err
		}
		if streams > 16 {
			streams--
			return ask("drop", "drop 16")
		}
		return nil
	}
	for i := 1; i <= cycles; i++ {
		for _, apply := range []bool{true, false} {
			if err := step(i, apply); err != nil {
				return report(st, start, err)
			}
		}
		if i%50 == 0 {
			fmt.Printf("cycle %d/%d ok\n", i, cycles)
		}
	}
	if err := ask("wrong", "wrong 0"); err != nil {
		return report(st, start, err)
	}
	fmt.Printf("threads caught inside zlib at the switch, all drained: %d\n", drained)
	return report(st, start, nil)
}
