package cxx

import (
	"slices"
	"testing"
)

// TestParseVTableMalformed feeds arbitrary words and relocations to the
// parser: it must never panic, and every word ends up somewhere.
func TestParseVTableMalformed(t *testing.T) {
	rel := relocs{{off: 8, sym: "_ZTI1A"}, {off: 24, sym: "_ZTI1A"}, {off: 32, addr: 0x99}}
	for n := 0; n <= 6; n++ {
		words := make([]uint64, n)
		for i := range words {
			words[i] = uint64(i) * 0x1111
		}
		tables := parseVTable(0, words, rel, addrNames{{addr: 0x99, name: "_ZN1A1fEv"}})
		total := 0
		for _, st := range tables {
			total += len(st.Offsets) + len(st.Slots)
			if st.RTTI != "" {
				total += 2
			}
		}
		if total > n {
			t.Errorf("%d words: tables account for %d words", n, total)
		}
	}
	if _, err := readWords(nil, 0, 12); err == nil {
		t.Error("readWords accepted a size that is not a whole number of words")
	}
}

// TestSortRelocs orders relocations by address, the later of two for one
// word holding, and finds them by address.
func TestSortRelocs(t *testing.T) {
	rs := sortRelocs(relocs{{off: 24, sym: "b"}, {off: 8, sym: "a"}, {off: 24, sym: "c"}, {off: 16, addr: 7}, {off: 8, sym: "d"}})
	want := relocs{{off: 8, sym: "d"}, {off: 16, addr: 7}, {off: 24, sym: "c"}}
	if !slices.Equal(rs, want) {
		t.Fatalf("sorted %+v, want %+v", rs, want)
	}
	for _, tt := range []struct {
		addr uint64
		sym  string
		ok   bool
	}{{8, "d", true}, {16, "", true}, {24, "c", true}, {0, "", false}, {12, "", false}, {32, "", false}} {
		if r, ok := rs.at(tt.addr); ok != tt.ok || r.sym != tt.sym {
			t.Errorf("at(%d) = %+v, %v; want sym %q, %v", tt.addr, r, ok, tt.sym, tt.ok)
		}
	}
}
