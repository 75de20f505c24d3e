package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// gcPercent is the garbage collector's target unless GOGC says otherwise.
// A check's live heap is mostly the two type graphs, built once, beside
// several times as much short-lived garbage; a 30% headroom instead of
// the default 100% costs about 10% more CPU and lowers the peak memory by
// a quarter (bench/RESULTS.md).
const gcPercent = 30

// While a check's live heap is under smallHeap, the collector's headroom
// is smallHeapGCPercent. A check without DWARF holds little — the symbol
// tables and C++ tables of a library with 50,000 exported symbols take
// about 14 MiB — beside the process's fixed 9 MiB (the binary's pages and
// the runtime's), and a 30% headroom would be an eighth of its peak; a
// collection of a small heap is cheap. Big heaps, those of the type graphs,
// keep gcPercent: their collections are not.
const (
	smallHeap          = 16 << 20
	smallHeapGCPercent = 10
)

// tuneGC makes the collector's target follow the live heap measured after
// each collection: small while it is under threshold bytes, large above,
// until stop is called, which leaves large.
func tuneGC(threshold uint64, small, large int) (stop func()) {
	var (
		mu      sync.Mutex
		stopped bool
		current = small
		sample  = []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	)
	debug.SetGCPercent(small)
	// A finalizer runs after each collection that finds its object
	// unreachable; it then arms the next one.
	type sentinel struct{ _ *byte } // a pointer: never in the tiny allocator
	var arm func()
	arm = func() {
		runtime.SetFinalizer(&sentinel{}, func(*sentinel) {
			mu.Lock()
			defer mu.Unlock()
			if stopped {
				return
			}
			metrics.Read(sample)
			pct := large
			if sample[0].Value.Uint64() < threshold {
				pct = small
			}
			if pct != current {
				debug.SetGCPercent(pct)
				current = pct
			}
			arm()
		})
	}
	arm()
	return func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		debug.SetGCPercent(large)
	}
}
