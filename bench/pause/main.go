//go:build linux && amd64

// Command pause measures, from inside the target, the worst pause a thread
// sees while compatgate applies an upgrade, at 1, 100 and 1000 threads,
// beside the bare cost of stopping the world (seize + interrupt + wait +
// detach of every thread, nothing else) on the same machine in the same
// run, and prints a Markdown table.
//
// The target's threads sleep a short period in a loop and record how late
// each wake-up is; the worst lateness after an operation, less nothing, is
// the pause. The main thread (blocked in read) is the one the engine
// hijacks for dlopen, so the measured threads are only ever stopped, as in
// the bare case. Each figure is the median over -rounds rounds. At 15
// rounds the bare stop's figure moves by a third from run to run, and the
// ratio of two such medians further; 61 rounds, the default, narrow it
// (see bench/RESULTS.md).
//
// A stop of the process releases every thread at once, so their wake-ups
// stay bunched for many periods afterwards, and where the bunch falls
// against the next stop decides most of that stop's figure. Before every
// window, the threads' wake-ups are therefore spread evenly over the period
// again (-respread, on by default), so that every operation, the bare stop
// included, meets the same even spread. The rounds alternate the order of
// the bare stop and the apply/revert pair, and the table also gives the
// median of the per-round ratios.
//
// An apply takes far longer than a bare stop (it loads NEW while the
// process runs, then stops it), and on a loaded machine the worst
// scheduling delay a thread meets grows with the time watched: each round
// therefore also watches the threads, nothing done, for as long as its
// apply took ("idle over the apply's span"), the noise the apply's figure
// contains. The second table gives it, the worst round of each figure and
// the load average.
//
// Usage (as root, from the repository root):
//
//	go run ./bench/pause [-rounds 61] [-threads 1,100,1000] [-respread=true] [-out FILE]
//	go run ./bench/pause -zlib [-threads 1,16,100] ...   the real corpus (see targetSource)
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/compatgate/compatgate/gate/inject"
	"github.com/compatgate/compatgate/internal/debian"
	"github.com/compatgate/compatgate/internal/osthread"
)

func main() {
	rounds := flag.Int("rounds", 61, "rounds per figure (the median is reported)")
	threads := flag.String("threads", "1,100,1000", "thread counts")
	src := flag.String("src", "gate/inject/testdata", "directory with libver.c")
	out := flag.String("out", "", "also write the table to this file")
	respread := flag.Bool("respread", true, "spread the threads' wake-ups evenly over their period before every window")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	zlib := flag.Bool("zlib", false, "the real corpus: N threads busy in the system's zlib, upgraded to trixie's 1.3.1 in the drain model; 4 non-library threads measure the stall")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "pause: %v\n", err)
			os.Exit(1)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	table, err := run(*rounds, *threads, *src, *respread, *zlib)
	if err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintf(os.Stderr, "pause: %v\n", err)
		os.Exit(1)
	}
	fmt.Print(table)
	if *out != "" {
		if err := os.WriteFile(*out, []byte(table), 0o644); err != nil {
			pprof.StopCPUProfile()
			fmt.Fprintf(os.Stderr, "pause: %v\n", err)
			os.Exit(1)
		}
	}
}

func gcc(args ...string) error {
	if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("gcc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// row is the result at one thread count, in microseconds.
type row struct {
	threads                     int
	idle, bare, bareWall, apply int64
	applyStopped, revert        int64
	ratio                       float64 // median of the per-round apply/bare ratios
	bareMax, applyMax           int64   // worst round
	revertMax, stoppedMax       int64
	span, spanMax               int64  // nothing done, over as long as the apply took
	load                        string // load average at the start and the end
}

func run(rounds int, threads, src string, respread, zlib bool) (string, error) {
	dir, err := os.MkdirTemp("", "pause-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	libs := map[string]string{}
	for _, v := range []string{"1", "2"} {
		p := filepath.Join(dir, "v"+v, "libver.so.1")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", err
		}
		if err := gcc("-O2", "-fPIC", "-shared", "-Wl,-soname,libver.so.1", "-Wl,--build-id", "-DVERSION="+v, "-o", p, filepath.Join(src, "libver.c")); err != nil {
			return "", err
		}
		libs[v] = p
	}
	csrc := filepath.Join(dir, "pause.c")
	if err := os.WriteFile(csrc, []byte(targetSource), 0o644); err != nil {
		return "", err
	}
	target := filepath.Join(dir, "pause")
	if zlib {
		if libs["1"], libs["2"], err = zlibPair(); err != nil {
			return "", err
		}
		if err := gcc("-O2", "-pthread", "-DZLIB", "-o", target, csrc, "-l:libz.so.1"); err != nil {
			return "", err
		}
	} else if err := gcc("-O2", "-pthread", "-o", target, csrc, libs["1"], "-Wl,-rpath,"+filepath.Dir(libs["1"])); err != nil {
		return "", err
	}
	var rows []row
	for _, s := range strings.Split(threads, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return "", fmt.Errorf("bad thread count %q", s)
		}
		load := loadAverage()
		r, err := measure(target, libs["1"], libs["2"], n, rounds, dir, respread, zlib)
		if err != nil {
			return "", fmt.Errorf("%d threads: %w", n, err)
		}
		r.load = load + " to " + loadAverage()
		rows = append(rows, r)
	}
	var b strings.Builder
	spread := "wake-ups spread again before every window"
	if !respread {
		spread = "wake-ups not spread again"
	}
	what := "libver, threads sleeping"
	if zlib {
		what = "zlib 1.2.13 -> 1.3.1 (drain model), N threads busy in zlib, 4 non-library threads measuring"
	}
	fmt.Fprintf(&b, "Worst thread pause seen from inside the target (%s; median of %d rounds, %s), %s, %d CPUs:\n\n", what, rounds, spread, runtime.GOARCH, runtime.NumCPU())
	fmt.Fprintf(&b, "| threads | idle (noise) | bare stop-the-world: pause | bare: wall | apply: pause | apply: world stopped (engine) | revert: pause | apply pause / bare pause | per-round apply / bare (median) |\n")
	fmt.Fprintf(&b, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %d | %d µs | %d µs | %d µs | %d µs | %d µs | %d µs | %.2f× | %.2f× |\n", r.threads, r.idle, r.bare, r.bareWall,
			r.apply, r.applyStopped, r.revert, float64(r.apply)/float64(max(r.bare, 1)), r.ratio)
	}
	fmt.Fprintf(&b, "\n| threads | idle over the apply's span: median | worst | worst of %d rounds: bare pause | apply pause | apply: world stopped | revert pause | load average (1 min), start to end |\n|---:|---:|---:|---:|---:|---:|---:|---|\n", rounds)
	for _, r := range rows {
		fmt.Fprintf(&b, "| %d | %d µs | %d µs | %d µs | %d µs | %d µs | %d µs | %s |\n", r.threads, r.span, r.spanMax, r.bareMax, r.applyMax, r.stoppedMax, r.revertMax, r.load)
	}
	return b.String(), nil
}

// loadAverage returns the machine's 1-minute load average, as
// /proc/loadavg gives it ("?" when it cannot be read).
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(data)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}

// pauseTarget is a running target.
type pauseTarget struct {
	cmd   *exec.Cmd
	stdin io.Writer
	out   *bufio.Scanner
}

func (p *pauseTarget) ask(cmd string) (string, error) {
	if _, err := io.WriteString(p.stdin, cmd+"\n"); err != nil {
		return "", err
	}
	if !p.out.Scan() {
		return "", fmt.Errorf("target exited")
	}
	return p.out.Text(), nil
}

func (p *pauseTarget) worst() (int64, error) {
	l, err := p.ask("max")
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimPrefix(l, "max "), 10, 64)
}

func median(xs []int64) int64 {
	sort.Slice(xs, func(i, j int) bool { return xs[i] < xs[j] })
	return xs[len(xs)/2]
}

// medianRatio returns the median of the ratios num[i]/den[i].
func medianRatio(num, den []int64) float64 {
	rs := make([]float64, len(num))
	for i := range num {
		rs[i] = float64(num[i]) / float64(max(den[i], 1))
	}
	sort.Float64s(rs)
	return rs[len(rs)/2]
}

func measure(target, v1, v2 string, n, rounds int, dir string, respread, drain bool) (row, error) {
	period := 1000 // µs: every thread wakes at least this often
	if n >= 1000 {
		period = 20000
	} else if n >= 100 {
		period = 2000
	}
	cmd := exec.Command(target, strconv.Itoa(n), strconv.Itoa(period))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return row{}, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return row{}, err
	}
	if err := cmd.Start(); err != nil {
		return row{}, err
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	p := &pauseTarget{cmd: cmd, stdin: stdin, out: bufio.NewScanner(stdout)}
	if !p.out.Scan() || p.out.Text() != "ready" {
		return row{}, fmt.Errorf("target did not start")
	}
	settle := 3 * time.Duration(period) * time.Microsecond
	// window runs op between a reset and, once every thread woke again, a
	// reading of the worst lateness; first, with respread, the threads'
	// wake-ups are spread evenly over the period again (each thread ends
	// its current sleep, within a period, then sleeps a random part of
	// one).
	window := func(op func() error) (int64, error) {
		if respread {
			if _, err := p.ask("spread"); err != nil {
				return 0, err
			}
			time.Sleep(5 * time.Duration(period) * time.Microsecond / 2)
		}
		if _, err := p.ask("reset"); err != nil {
			return 0, err
		}
		if err := op(); err != nil {
			return 0, err
		}
		time.Sleep(settle)
		return p.worst()
	}
	opt := inject.Options{StateDir: filepath.Join(dir, "state"), Drain: drain}
	if drain { // threads busy in the library, on a machine that may be loaded
		opt.CallTimeout, opt.StopTimeout = time.Minute, time.Minute
	}
	var idle, span, bare, wall, apply, stopped, revert []int64
	time.Sleep(10 * settle) // let thread start-up settle
	for i := 0; i < rounds; i++ {
		w, err := window(func() error { return nil })
		if err != nil {
			return row{}, err
		}
		idle = append(idle, w)
		bareRound := func() error {
			var took time.Duration
			w, err := window(func() error {
				start := time.Now()
				err := stopTheWorld(cmd.Process.Pid)
				took = time.Since(start)
				return err
			})
			bare, wall = append(bare, w), append(wall, took.Microseconds())
			return err
		}
		// Odd rounds stop the process bare after the apply/revert pair,
		// even ones before it.
		if i%2 == 0 {
			if err := bareRound(); err != nil {
				return row{}, err
			}
		}
		var res inject.Result
		var took time.Duration
		if w, err = window(func() error {
			defer func(start time.Time) { took = time.Since(start) }(time.Now())
			res = inject.Apply(context.Background(), cmd.Process.Pid, v1, v2, opt)
			if res.Status != inject.StatusOK {
				return fmt.Errorf("apply: %s: %s", res.Status, res.Reason)
			}
			return nil
		}); err != nil {
			return row{}, err
		}
		apply, stopped = append(apply, w), append(stopped, res.StoppedMicros)
		// The control: the worst lateness over a window as long as the
		// apply's, nothing done (on a loaded machine, the longer the
		// window, the worse the scheduling noise it catches).
		if w, err = window(func() error { time.Sleep(took); return nil }); err != nil {
			return row{}, err
		}
		span = append(span, w)
		if w, err = window(func() error {
			r := inject.Revert(context.Background(), cmd.Process.Pid, v1, opt)
			if r.Status != inject.StatusOK {
				return fmt.Errorf("revert: %s: %s", r.Status, r.Reason)
			}
			return nil
		}); err != nil {
			return row{}, err
		}
		revert = append(revert, w)
		if i%2 == 1 {
			if err := bareRound(); err != nil {
				return row{}, err
			}
		}
	}
	ratio := medianRatio(apply, bare)
	return row{threads: n, idle: median(idle), bare: median(bare), bareWall: median(wall),
		apply: median(apply), applyStopped: median(stopped), revert: median(revert), ratio: ratio,
		bareMax: slices.Max(bare), applyMax: slices.Max(apply), revertMax: slices.Max(revert),
		span: median(span), spanMax: slices.Max(span), stoppedMax: slices.Max(stopped)}, nil
}

// stopTheWorld is the bare cost the engine is compared with: seize every
// thread, interrupt them all, wait until all are stopped, detach them all,
// from one OS thread.
func stopTheWorld(pid int) error {
	errc := make(chan error, 1)
	// The thread ends with the function, detaching whatever a failure left
	// traced.
	osthread.Go(func() {
		errc <- func() error {
			ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
			if err != nil {
				return err
			}
			var tids []int
			for _, e := range ents {
				tid, _ := strconv.Atoi(e.Name())
				if err := unix.PtraceSeize(tid); err != nil {
					return fmt.Errorf("seize %d: %w", tid, err)
				}
				tids = append(tids, tid)
			}
			for _, tid := range tids {
				if err := unix.PtraceInterrupt(tid); err != nil {
					return fmt.Errorf("interrupt %d: %w", tid, err)
				}
			}
			for _, tid := range tids {
				var ws unix.WaitStatus
				if _, err := unix.Wait4(tid, &ws, unix.WALL, nil); err != nil {
					return fmt.Errorf("wait %d: %w", tid, err)
				}
			}
			for _, tid := range tids {
				if err := unix.PtraceDetach(tid); err != nil {
					return fmt.Errorf("detach %d: %w", tid, err)
				}
			}
			return nil
		}()
	})
	return <-errc
}

// zlibPair returns the system's zlib (OLD, as programs load it) and
// trixie's 1.3.1 (NEW, fetched with internal/debian).
func zlibPair() (string, string, error) {
	old, err := filepath.EvalSymlinks("/lib/x86_64-linux-gnu/libz.so.1")
	if err != nil {
		return "", "", err
	}
	ctx := context.Background()
	a, err := debian.Open(ctx, "")
	if err != nil {
		return "", "", err
	}
	x, err := a.Extract(ctx, "zlib1g/trixie")
	if err != nil {
		return "", "", err
	}
	new, err := filepath.EvalSymlinks(filepath.Join(x, "usr/lib/x86_64-linux-gnu/libz.so.1"))
	return old, new, err
}
