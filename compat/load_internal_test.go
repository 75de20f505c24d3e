package compat

import (
	"math"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/compatgate/compatgate/internal/testlib"
)

// TestChooseLoad builds libraries with DWARF stored plainly, compressed,
// and none, and checks how CheckWith would read each pair.
func TestChooseLoad(t *testing.T) {
	const src = "struct s { int a; long b; };\nint f(struct s *p) { return p->a; }\n"
	libs := map[string]string{
		"plain":   testlib.BuildLib(t, "gcc", src, "-g"),
		"zipped":  testlib.BuildLib(t, "gcc", src, "-g", "-gz=zlib"),
		"bare":    testlib.BuildLib(t, "gcc", src),
		"missing": filepath.Join(t.TempDir(), "missing.so"),
	}
	cases := []struct {
		old, new string
		limit    int64
		want     loadMode
	}{
		{"plain", "plain", math.MaxInt64, loadTogether},
		{"zipped", "bare", math.MaxInt64, loadTogether},
		{"plain", "plain", 0, loadPaced},
		{"plain", "zipped", 0, loadInTurn},
		{"zipped", "plain", 0, loadInTurn},
		{"bare", "plain", 0, loadInTurn},
		{"plain", "missing", math.MaxInt64, loadInTurn},
	}
	for _, c := range cases {
		if got := chooseLoad(libs[c.old], libs[c.new], c.limit); got != c.want {
			t.Errorf("chooseLoad(%s, %s, %d) = %d, want %d", c.old, c.new, c.limit, got, c.want)
		}
	}
}

// TestHeapPacer checks that a pacer lets the read go on while the heap is
// under its limit, and otherwise holds it until the other read is done.
func TestHeapPacer(t *testing.T) {
	runtime.GC() // the live heap is measured by a collection
	done := make(chan struct{})
	heapPacer(done, math.MaxUint64)() // returns: the heap is under the limit

	started, returned := make(chan struct{}), make(chan bool)
	go func() {
		pace := heapPacer(done, 0)
		started <- struct{}{}
		pace() // the heap is over the limit: waits for done
		select {
		case <-done:
			returned <- true
		default:
			returned <- false
		}
	}()
	<-started
	close(done)
	if !<-returned {
		t.Error("a pacer over its limit returned before the other read was done")
	}
	heapPacer(done, 0)() // returns: the other read is done
}
