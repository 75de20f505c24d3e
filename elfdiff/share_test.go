package elfdiff

import (
	"github.com/compatgate/compatgate/elfdiff/elfsym"
	"github.com/compatgate/compatgate/internal/testlib"

	"debug/elf"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"unsafe"
	"weak"

	"github.com/google/go-cmp/cmp"
)

// manyClasses returns C++ source with n classes in a namespace with a
// long name, so that the string table is big: each class has a vtable,
// typeinfo and virtual methods. extra is appended.
func manyClasses(n int, extra string) string {
	var b strings.Builder
	ns := "namespace_" + strings.Repeat("long", 40)
	fmt.Fprintf(&b, "namespace %s {\n", ns)
	for i := range n {
		fmt.Fprintf(&b, "struct Base%d { virtual ~Base%d(); virtual int f(int); virtual int g(long); };\n", i, i)
		fmt.Fprintf(&b, "Base%d::~Base%d() {}\nint Base%d::f(int x) { return x + %d; }\nint Base%d::g(long x) { return int(x) - %d; }\n", i, i, i, i, i, i)
	}
	b.WriteString(extra)
	b.WriteString("}\n")
	return b.String()
}

// TestShareNames loads a library's new version with ShareNames: the
// names both versions export are the old corpus's strings, the others
// the new corpus's own, and the vtables and typeinfo read are the same.
func TestShareNames(t *testing.T) {
	oldSO := testlib.BuildLib(t, "g++", manyClasses(20, "int removed() { return 1; }\n"), "-O1")
	newSO := testlib.BuildLib(t, "g++", manyClasses(20, "int added() { return 2; }\n"), "-O1")
	old, err := Load(oldSO)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := Load(newSO)
	if err != nil {
		t.Fatal(err)
	}
	shared, err := LoadWith(newSO, LoadOptions{ShareNames: old})
	if err != nil {
		t.Fatal(err)
	}
	if plain.NumSymbols() != shared.NumSymbols() {
		t.Fatalf("%d symbols shared, %d not", shared.NumSymbols(), plain.NumSymbols())
	}
	own := 0
	for i, s := range shared.Symbols() {
		if p := plain.Symbol(i); p != s {
			t.Errorf("symbol %d: %+v shared, %+v not", i, s, p)
		}
		o, ok := old.Lookup(s.Key())
		switch {
		case ok && unsafe.StringData(o.Name) != unsafe.StringData(s.Name):
			t.Errorf("%s: not the old corpus's string", s.Name)
		case !ok:
			own++
		}
	}
	if own == 0 {
		t.Errorf("no symbol of the new version only: the test does not test copying")
	}
	if plain.CXX == nil || len(plain.CXX.VTables) == 0 {
		t.Fatal("no vtables read: the test does not test the C++ tables")
	}
	if diff := cmp.Diff(plain.CXX, shared.CXX); diff != "" {
		t.Errorf("C++ tables differ with shared names (-alone +shared):\n%s", diff)
	}
}

// TestShareNamesFreesStringTable checks that a corpus loaded with
// ShareNames keeps no part of its own string table: it keeps less memory
// than one loaded alone by at least the size of that table.
func TestShareNamesFreesStringTable(t *testing.T) {
	so := testlib.BuildLib(t, "g++", manyClasses(400, ""), "-O1")
	old, err := Load(so)
	if err != nil {
		t.Fatal(err)
	}
	ef, err := elf.Open(so)
	if err != nil {
		t.Fatal(err)
	}
	table := int64(ef.Section(".dynstr").Size)
	ef.Close()
	kept := func(opts LoadOptions) int64 {
		before := liveHeap()
		c, err := LoadWith(so, opts)
		if err != nil {
			t.Fatal(err)
		}
		after := liveHeap()
		runtime.KeepAlive(c)
		return after - before
	}
	alone, shared := kept(LoadOptions{}), kept(LoadOptions{ShareNames: old})
	t.Logf("string table %d bytes; the corpus keeps %d bytes alone, %d with shared names", table, alone, shared)
	if alone-shared < table*9/10 {
		t.Errorf("shared names save %d bytes of a %d-byte string table", alone-shared, table)
	}
	runtime.KeepAlive(old)
}

// liveHeap returns the bytes of live heap objects.
func liveHeap() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// TestDetachFreesStringTable checks that a symbol table detached from its
// string table, as the loader does once a corpus shares another's names,
// names every entry as before and holds no part of the table, even
// through the names it had to copy (those of undefined symbols).
func TestDetachFreesStringTable(t *testing.T) {
	so := testlib.BuildLib(t, "g++", manyClasses(50, ""), "-O1")
	base, err := Load(so)
	if err != nil {
		t.Fatal(err)
	}
	ef, err := elf.Open(so)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	dyn, err := elfsym.ReadSymbolTable(ef, elf.SHT_DYNSYM)
	if err != nil {
		t.Fatal(err)
	}
	var c Corpus
	c.symbols, c.Undefined, c.Versions = elfsym.ReadExports(dyn)
	c.symbols.Share(&base.symbols)
	var want []string
	undefined := 0
	for i := range dyn.Len() {
		s := dyn.At(i)
		want = append(want, strings.Clone(s.Name))
		if s.Section == elf.SHN_UNDEF && s.Name != "" {
			undefined++
		}
	}
	if undefined == 0 {
		t.Fatal("no undefined symbol: the test does not test copied names")
	}
	table := weak.Make(unsafe.StringData(dyn.Strings))
	in := elfsym.NewInterner(&c.symbols) // the loader goes on using it
	dyn.Detach(in.Intern)
	runtime.GC()
	if table.Value() != nil {
		t.Error("the string table is still reachable after detach")
	}
	for i := range dyn.Len() {
		if got := dyn.At(i).Name; got != want[i] {
			t.Errorf("entry %d: %q after detach, %q before", i, got, want[i])
		}
	}
	runtime.KeepAlive(base)
	runtime.KeepAlive(in)
}
