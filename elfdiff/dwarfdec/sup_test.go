package dwarfdec

import (
	"slices"
	"testing"
)

// TestSupCandidates checks where a dwz common file is looked for, in
// order: as the altlink names it (relative to the debug file), by build-id
// under each debug root, and an altlink under /usr/lib/debug moved under
// each root.
func TestSupCandidates(t *testing.T) {
	roots := []string{"/r1", DefaultDebugDir}
	tests := []struct {
		path, name, id string
		want           []string
	}{
		{"/x/usr/lib/debug/.build-id/ab/cd.debug", "../../.dwz/lib.debug", "1234",
			[]string{"/x/usr/lib/debug/.dwz/lib.debug", "/r1/.build-id/12/34.debug", "/usr/lib/debug/.build-id/12/34.debug"}},
		{"/d/lib.so.debug", "/usr/lib/debug/.dwz/x86_64-linux-gnu/libfoo1.debug", "abcdef",
			[]string{"/usr/lib/debug/.dwz/x86_64-linux-gnu/libfoo1.debug",
				"/r1/.build-id/ab/cdef.debug", "/usr/lib/debug/.build-id/ab/cdef.debug",
				"/r1/.dwz/x86_64-linux-gnu/libfoo1.debug", "/usr/lib/debug/.dwz/x86_64-linux-gnu/libfoo1.debug"}},
		{"", "common.debug", "", nil},
	}
	for _, tt := range tests {
		if got := supCandidates(tt.path, tt.name, tt.id, roots); !slices.Equal(got, tt.want) {
			t.Errorf("supCandidates(%q, %q, %q) = %q, want %q", tt.path, tt.name, tt.id, got, tt.want)
		}
	}
}
