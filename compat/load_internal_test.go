package compat

import (
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// TestChooseLoad builds libraries with DWARF stored plainly, compressed,
// and none, and checks how CheckWith would read each pair.
func TestChooseLoad(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "f.c")
	if err := os.WriteFile(src, []byte("struct s { int a; long b; };\nint f(struct s *p) { return p->a; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	build := func(name string, flags ...string) string {
		so := filepath.Join(dir, name)
		args := append(append([]string{"-shared", "-fPIC", "-o", so}, flags...), src)
		if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
			t.Fatalf("gcc %v: %v\n%s", args, err, out)
		}
		return so
	}
	plain := build("plain.so", "-g")
	zipped := build("zipped.so", "-g", "-gz=zlib")
	bare := build("bare.so")
	missing := filepath.Join(dir, "missing.so")
	cases := []struct {
		old, new string
		limit    int64
		want     loadMode
	}{
		{plain, plain, math.MaxInt64, loadTogether},
		{zipped, bare, math.MaxInt64, loadTogether},
		{plain, plain, 0, loadPaced},
		{plain, zipped, 0, loadInTurn},
		{zipped, plain, 0, loadInTurn},
		{bare, plain, 0, loadInTurn},
		{plain, missing, math.MaxInt64, loadInTurn},
	}
	for _, c := range cases {
		if got := chooseLoad(c.old, c.new, c.limit); got != c.want {
			t.Errorf("chooseLoad(%s, %s, %d) = %d, want %d", filepath.Base(c.old), filepath.Base(c.new), c.limit, got, c.want)
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
