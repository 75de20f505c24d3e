//go:build linux && amd64

package inject

import (
	"bytes"
	"encoding/binary"
	"os"
	"runtime"
	"sync"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestStackReader reads ranges of this process's own memory with and
// without the helper, across more than one batch of IOV_MAX ranges.
func TestStackReader(t *testing.T) {
	src := make([]byte, 256<<10)
	for i := range src {
		src[i] = byte(i*7 + i>>9)
	}
	pid := os.Getpid()
	// ranges returns n ranges of src (of varying lengths, some empty gaps
	// between them) and the buffers they are read into.
	ranges := func(n int) ([]unix.Iovec, []unix.RemoteIovec, [][]byte, [][]byte) {
		var local []unix.Iovec
		var remote []unix.RemoteIovec
		var got, want [][]byte
		off := 0
		for i := 0; i < n; i++ {
			l := 1 + (i*37)%97
			if off+l > len(src) {
				off = 0
			}
			buf := make([]byte, l)
			local = append(local, unix.Iovec{Base: &buf[0], Len: uint64(l)})
			remote = append(remote, unix.RemoteIovec{Base: uintptr(unsafe.Pointer(&src[off])), Len: l})
			got, want = append(got, buf), append(want, src[off:off+l])
			off += l + i%5
		}
		return local, remote, got, want
	}
	r := newStackReader(pid, helpedThreads)
	defer r.close()
	for _, tc := range []struct {
		name  string
		r     *stackReader
		start bool
		n     int
	}{
		{"alone", nil, false, 100},
		{"alone, several batches", nil, false, 2500},
		{"helper", r, true, 101},
		{"helper, several batches", r, true, 3000},
		{"helper not started", r, false, 101},
		{"helper again", r, true, 7},
		{"one range", r, true, 1},
	} {
		local, remote, got, want := ranges(tc.n)
		if tc.start {
			tc.r.start()
		}
		seen := make([]bool, len(local))
		var mu sync.Mutex
		after := func(lo, hi int) {
			mu.Lock()
			defer mu.Unlock()
			for k := lo; k < hi; k++ {
				if seen[k] {
					t.Errorf("%s: range %d passed to after twice", tc.name, k)
				}
				seen[k] = true
			}
		}
		if !tc.r.read(pid, local, remote, after) {
			t.Errorf("%s: read reported a short read", tc.name)
			continue
		}
		for k, ok := range seen {
			if !ok {
				t.Errorf("%s: range %d not passed to after", tc.name, k)
				break
			}
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Errorf("%s: range %d: got %x, want %x", tc.name, i, got[i], want[i])
				break
			}
		}
	}
	// An unreadable range (the page at 0) is reported.
	local, remote, _, _ := ranges(64)
	var b [8]byte
	local = append(local, unix.Iovec{Base: &b[0], Len: 8})
	remote = append(remote, unix.RemoteIovec{Base: 0, Len: 8})
	r.start()
	if r.read(pid, local, remote, nil) {
		t.Errorf("a read of address 0 was reported complete")
	}
}

// TestReadWords: readWords reads every word of a set in one
// process_vm_readv, and one it cannot read (unmapped) through the
// fallback, which reports the error.
func TestReadWords(t *testing.T) {
	tr, err := newTracer(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.mem.Close()
	data := make([]uint64, 2000) // more than one batch of 1024
	ws := make([]wordWrite, len(data))
	for i := range data {
		data[i] = uint64(i)*0x0101010101 + 7
		ws[i].Addr = uint64(uintptr(unsafe.Pointer(&data[i])))
	}
	got, err := tr.readWords(ws)
	if err != nil {
		t.Fatal(err)
	}
	for i := range data {
		if v := binary.LittleEndian.Uint64(got[i][:]); v != data[i] {
			t.Fatalf("word %d: %#x, want %#x", i, v, data[i])
		}
	}
	runtime.KeepAlive(data)
	if _, err := tr.readWords(append(ws[:3:3], wordWrite{Addr: 8})); err == nil {
		t.Errorf("reading the word at address 8: no error")
	}
}
