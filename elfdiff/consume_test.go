package elfdiff

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/compatgate/compatgate/internal/testlib"
)

// TestDiffWithConsume checks that a consuming diff finds what Diff finds,
// and drops the vtables of both corpora, which Diff leaves alone.
func TestDiffWithConsume(t *testing.T) {
	const v1 = `struct Shape { virtual ~Shape(); virtual int area() const; int id; };
Shape::~Shape() {}
int Shape::area() const { return 0; }
struct Box : Shape { int area() const override; int w; };
int Box::area() const { return w; }
`
	const v2 = `struct Shape { virtual ~Shape(); virtual int area() const; virtual int perimeter() const; long id; };
Shape::~Shape() {}
int Shape::area() const { return 0; }
int Shape::perimeter() const { return 0; }
struct Box : Shape { int area() const override; int perimeter() const override; int w; };
int Box::area() const { return w; }
int Box::perimeter() const { return 4 * w; }
`
	oldSO, newSO := testlib.BuildLib(t, "g++", v1, "-g"), testlib.BuildLib(t, "g++", v2, "-g")
	load := func() (*Corpus, *Corpus) {
		old, err := Load(oldSO)
		if err != nil {
			t.Fatal(err)
		}
		new, err := LoadWith(newSO, LoadOptions{ShareNames: old})
		if err != nil {
			t.Fatal(err)
		}
		if old.Debug == nil || old.CXX == nil || len(old.CXX.VTables) == 0 || len(new.CXX.VTables) == 0 {
			t.Fatal("the libraries have no debug information or no vtables")
		}
		return old, new
	}
	old, new := load()
	kept, err := Diff(old, new)
	if err != nil {
		t.Fatal(err)
	}
	if len(old.CXX.VTables) == 0 || len(new.CXX.VTables) == 0 {
		t.Error("Diff dropped the vtables")
	}
	old, new = load()
	consumed, err := DiffWith(old, new, DiffOptions{Consume: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(old.CXX.VTables) != 0 || len(new.CXX.VTables) != 0 {
		t.Error("a consuming diff kept the vtables")
	}
	if len(new.CXX.Typeinfo) == 0 {
		t.Error("a consuming diff dropped the typeinfo")
	}
	want, got := slices.Collect(kept.All()), slices.Collect(consumed.All())
	if !slices.ContainsFunc(want, func(c Change) bool { return c.Kind == VirtualAppended }) {
		t.Fatalf("no %s among the changes: %v", VirtualAppended, want)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("changes differ (-Diff +consuming DiffWith):\n%s", diff)
	}
}
