package dwarfdec

import (
	"bytes"
	"runtime"
	"testing"

	"github.com/compatgate/compatgate/internal/testlib"
)

// TestEvictKeepsBytes maps the .debug_info of a library, gives its pages
// back, and reads it again: the bytes are the file's, read again from it.
// A compressed section is inflated into memory, and is not evicted.
func TestEvictKeepsBytes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		flags  []string
		mapped bool
	}{
		{"plain", []string{"-g", "-gdwarf-4", "-O2"}, runtime.GOOS == "linux"},
		{"zlib", []string{"-g", "-gdwarf-5", "-gz=zlib"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			so := testlib.BuildLib(t, "gcc", testlib.CSrc, tc.flags...)
			df := openScanLib(t, so)
			sec := df.Sec
			if got := sec.infoEvict != nil; got != tc.mapped {
				t.Fatalf(".debug_info mapped: %v, want %v", got, tc.mapped)
			}
			want := append([]byte(nil), sec.Info...)
			n := uint64(len(sec.Info))
			var hdr [12]byte
			for _, off := range []uint64{0, 1, n / 2, n - 5} {
				if got := sec.InfoAt(hdr[:], off); !bytes.Equal(got, want[off:min(off+12, n)]) {
					t.Errorf("InfoAt(%d) = %x, want %x", off, got, want[off:min(off+12, n)])
				}
			}
			// A reader moving forward a few bytes at a time leaves no
			// page behind.
			mark := uint64(0)
			for off := uint64(0); off <= n; off += 100 {
				mark = sec.Evict(mark, off)
			}
			if mark = sec.Evict(mark, n); tc.mapped && n > 2*4096 && n-mark >= 4096 {
				t.Errorf("pages evicted up to %d of %d", mark, n)
			}
			if !tc.mapped && mark != 0 {
				t.Errorf("Evict of a section in memory returned %d, want 0", mark)
			}
			if !bytes.Equal(sec.Info, want) {
				t.Error(".debug_info differs once its pages are given back")
			}
		})
	}
}
