package elfdiff_test

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/compatgate/compatgate/elfdiff"
	"github.com/compatgate/compatgate/elfdiff/abidump"
	"github.com/compatgate/compatgate/internal/testlib"
)

// manyUnits returns the sources of a library whose units each include one
// header of structs, so that its .debug_info spans many pages: reading
// it maps them, and gives back those of each unit left.
func manyUnits(units, structs int) map[string]string {
	var h strings.Builder
	for s := range structs {
		fmt.Fprintf(&h, "struct s%d { struct s%d *next; long v%d; char tag[%d]; double d; };\n", s, (s+1)%structs, s, s%7+1)
	}
	srcs := map[string]string{"types.h": h.String()}
	for u := range units {
		var b strings.Builder
		b.WriteString("#include \"types.h\"\n")
		for s := range structs {
			fmt.Fprintf(&b, "long f%d_%d(struct s%d *p) { return p->v%d; }\n", u, s, s, s)
		}
		srcs[fmt.Sprintf("u%d.c", u)] = b.String()
	}
	return srcs
}

// TestMappedMatchesRead loads each library twice: from its file, whose
// uncompressed DWARF sections are mapped and the pages of the units read
// given back, and from its bytes in memory, which are read. The two
// corpora must dump the same. The mapped corpus is dumped after its
// mappings are unmapped (Load returns after closing the DWARF): a string
// still aliasing one would fault, or dump other bytes.
func TestMappedMatchesRead(t *testing.T) {
	libs := map[string]string{
		"units-gcc": testlib.BuildUnitsWith(t, "gcc", manyUnits(24, 30)),
		"units-g++": testlib.BuildUnitsWith(t, "g++", manyUnits(8, 30)),
	}
	for _, b := range testlib.Builds() {
		libs[b.Name] = testlib.BuildLib(t, b.Compiler, b.Src, append([]string{"-g"}, b.Flags...)...)
	}
	for name, so := range libs {
		t.Run(name, func(t *testing.T) {
			mapped, err := elfdiff.Load(so)
			if err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(so)
			if err != nil {
				t.Fatal(err)
			}
			read, err := elfdiff.LoadReader(so, bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if mapped.Debug == nil {
				t.Fatalf("no debug information read: %q", mapped.Notes)
			}
			var a, b bytes.Buffer
			if err := abidump.Write(&a, mapped); err != nil {
				t.Fatal(err)
			}
			if err := abidump.Write(&b, read); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a.Bytes(), b.Bytes()) {
				t.Errorf("mapped and read corpora differ:\n%s\n--- read:\n%s", a.String(), b.String())
			}
		})
	}
}
