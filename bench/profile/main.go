// Command profile runs one compatgate check in process and writes CPU and
// heap profiles of it, for `go tool pprof`: the tool behind the speed and
// memory work recorded in bench/RESULTS.md.
//
// Usage:
//
//	go run ./bench/profile [-cpu FILE] [-heap FILE] [-heap-after STAGE] [-rate BYTES] [-format json|text] [-debug-dir DIR]... OLD NEW
//
// The check runs in its stages (load old, load new, diff, judge, write the
// report, JSON or -format text, into io.Discard), each timed, as compatgate
// check runs them (the diff drops the corpora's vtables once compared).
// The two loads run one after the other, the new library sharing the old
// one's names, as compatgate check reads libraries of over 64 MiB together
// unless both carry their DWARF uncompressed; the pairs check reads at the
// same time are profiled this way too, so that each load is measured
// alone. The heap profile is taken
// after the stage -heap-after names; -rate 1 records every allocation
// instead of a sample. The last
// line gives the total time, the number of findings and the Go heap's size.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/compatgate/compatgate/compat"
	"github.com/compatgate/compatgate/elfdiff"
	"github.com/compatgate/compatgate/rules"
)

type dirs []string

func (d *dirs) String() string     { return fmt.Sprint(*d) }
func (d *dirs) Set(s string) error { *d = append(*d, s); return nil }

func main() {
	cpu := flag.String("cpu", "", "write a CPU profile to `FILE`")
	heap := flag.String("heap", "", "write a heap profile to `FILE` after the stage -heap-after names")
	heapAfter := flag.String("heap-after", "load", "the stage after which the heap profile is taken: load, diff, judge or write")
	rate := flag.Int("rate", runtime.MemProfileRate, "record one heap sample per `BYTES` allocated (1: every allocation)")
	format := flag.String("format", "json", "the report written in the write stage: json or text")
	var debugDirs dirs
	flag.Var(&debugDirs, "debug-dir", "also look for separate debug files in `DIR` (repeatable)")
	flag.Parse()
	runtime.MemProfileRate = *rate
	if flag.NArg() != 2 {
		fmt.Fprintln(os.Stderr, "usage: profile [-cpu FILE] [-heap FILE] [-heap-after STAGE] [-rate BYTES] [-format json|text] [-debug-dir DIR]... OLD NEW")
		os.Exit(2)
	}
	if *format != "json" && *format != "text" {
		fmt.Fprintln(os.Stderr, "profile: -format is json or text")
		os.Exit(2)
	}
	if err := run(*cpu, *heap, *heapAfter, *format, debugDirs, flag.Arg(0), flag.Arg(1)); err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
		os.Exit(1)
	}
}

func run(cpuPath, heapPath, heapAfter, format string, debugDirs []string, oldPath, newPath string) error {
	if cpuPath != "" {
		f, err := os.Create(cpuPath)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("starting CPU profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	lap := start
	// stage prints the time since the last stage, and takes the heap
	// profile after the stage -heap-after names (load: both loads).
	stage := func(name, key string) error {
		fmt.Printf("%-8s %6.3f s\n", name, time.Since(lap).Seconds())
		if err := snapshot(heapPath, key != "" && key == heapAfter); err != nil {
			return err
		}
		lap = time.Now()
		return nil
	}
	lo := elfdiff.LoadOptions{DebugDirs: debugDirs}
	old, err := elfdiff.LoadWith(oldPath, lo)
	if err != nil {
		return err
	}
	if err := stage("load old", ""); err != nil {
		return err
	}
	lo.ShareNames = old // as compatgate check does when it reads the two in turn
	new, err := elfdiff.LoadWith(newPath, lo)
	if err != nil {
		return err
	}
	if err := stage("load new", "load"); err != nil {
		return err
	}
	changes, err := elfdiff.DiffWith(old, new, elfdiff.DiffOptions{Consume: true})
	if err != nil {
		return err
	}
	if err := stage("diff", "diff"); err != nil {
		return err
	}
	r := compat.Judge(old, new, changes, rules.Default())
	if err := stage("judge", "judge"); err != nil {
		return err
	}
	write := r.WriteJSON
	if format == "text" {
		write = r.WriteText
	}
	if err := write(io.Discard); err != nil {
		return err
	}
	if err := stage("write", "write"); err != nil {
		return err
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("%s: %d findings, verdict %s, %.2f s, heap sys %.0f MiB, total alloc %.0f MiB, %d GCs\n",
		newPath, r.Len(), r.Verdict, time.Since(start).Seconds(),
		float64(ms.HeapSys)/(1<<20), float64(ms.TotalAlloc)/(1<<20), ms.NumGC)
	return nil
}

// snapshot writes a heap profile to path when now is true and path is set.
func snapshot(path string, now bool) error {
	if path == "" || !now {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		return fmt.Errorf("writing heap profile: %w", err)
	}
	return nil
}
