package rules

import (
	"strings"
	"testing"

	"github.com/compatgate/compatgate/elfdiff"
)

func TestParseSuppressionsErrors(t *testing.T) {
	tests := []struct{ text, want string }{
		{"name = x\n", "s.supp:1: property \"name\" before any section"},
		{"# c\n[suppress_type]\n  name point\n", "s.supp:3: want a [section] or a property"},
		{"[suppress_type\n", "s.supp:1: section header"},
		{"\n[suppress_everything]\n", "s.supp:2: unknown section [suppress_everything]"},
		{"[suppress_type]\nname_regexp = (\n", "s.supp:2: name_regexp: bad regular expression"},
		{"[suppress_type]\nsymbol_name = f\n", "s.supp:2: property \"symbol_name\" is not supported in [suppress_type]"},
		{"[suppress_type]\nname = a\nname = b\n", "s.supp:3: property \"name\" given twice"},
		{"[suppress_type]\nhas_data_member_inserted_at = middle\n", "s.supp:2: has_data_member_inserted_at: want a bit offset"},
		{"[suppress_type]\nhas_data_member_inserted_between = {8}\n", "s.supp:2: has_data_member_inserted_between: want {from, to}"},
		{"[suppress_function]\nchange_kind = added-variable\n", "s.supp:2: change_kind: want one of all, function-subtype-change"},
		{"[suppress_type]\ntype_kind = record\n", "s.supp:2: type_kind: want class"},
	}
	for _, tt := range tests {
		_, err := ParseSuppressions("s.supp", strings.NewReader(tt.text))
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want %q…", tt.text, err, tt.want)
		}
	}
}

func TestSuppressionMatching(t *testing.T) {
	const file = `# every section kind
[suppress_type]
  label = point may grow at its end
  name = point
  has_data_member_inserted_at = end
[suppress_type]
  name_regexp = ^priv_
  name_not_regexp = keep
  type_kind = struct
[suppress_function]
  name_regexp = ^internal_
  change_kind = deleted-function
  soname_regexp = ^libx\.so
[suppress_variable]
  symbol_name = table
  symbol_version = V2
[suppress_file]
  file_name_regexp = ^libtest
[suppress_type]
  name = point
  has_data_members_inserted_between = { {0, 8} , {offset_after(y), end} }
`
	ss, err := ParseSuppressions("s.supp", strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 6 || ss[0].Label != "point may grow at its end" || ss[0].Line != 2 || ss[4].Kind != SuppressFile {
		t.Fatalf("parsed %+v", ss)
	}
	lib := Target{Path: "/build/libx.so.1", SONAME: "libx.so.1"}
	// point: a member appended at bit 64 (old size 64) is at the end; one
	// inserted at bit 32 is not; a removed member is never suppressed.
	info := TypeInfo{Kind: "struct", OldSize: 64, NewMember: func(m string) (int64, bool) {
		return map[string]int64{"tail": 64, "mid": 32}[m], true
	}, Member: func(m string) (int64, int64, bool) {
		off, ok := map[string]int64{"x": 0, "y": 32}[m]
		return off, 32, ok
	}}
	added := func(m string) elfdiff.Change {
		return elfdiff.Change{Kind: elfdiff.MemberAdded, Type: "struct point", Where: "member " + m}
	}
	grew := elfdiff.Change{Kind: elfdiff.TypeSizeChanged, Type: "struct point", Facts: elfdiff.FactGrew}
	removed := elfdiff.Change{Kind: elfdiff.MemberRemoved, Type: "struct point", Where: "member x"}
	typeTests := []struct {
		s       int
		name    string
		changes []elfdiff.Change
		want    Decision
	}{
		{0, "struct point", []elfdiff.Change{added("tail"), grew}, Suppressed},
		{0, "struct point", []elfdiff.Change{added("mid"), grew}, NotSuppressed},
		{0, "struct point", []elfdiff.Change{added("tail"), removed}, NotSuppressed},
		{0, "struct point", []elfdiff.Change{grew}, NotSuppressed}, // nothing inserted
		{0, "struct other", []elfdiff.Change{{Kind: elfdiff.MemberAdded, Type: "struct other", Where: "member tail"}}, NotSuppressed},
		{1, "struct priv_state", []elfdiff.Change{grew}, Suppressed},
		{1, "struct priv_keep", []elfdiff.Change{grew}, NotSuppressed},
		{1, "union priv_u", []elfdiff.Change{grew}, NotSuppressed}, // type_kind
		{2, "struct priv_state", []elfdiff.Change{grew}, NotSuppressed},
		{5, "struct point", []elfdiff.Change{added("tail"), grew}, Suppressed},   // y ends at 64
		{5, "struct point", []elfdiff.Change{added("mid"), grew}, NotSuppressed}, // 32: in neither range
	}
	for _, tt := range typeTests {
		if got := ss[tt.s].SuppressesType(lib, tt.name, tt.changes, info); got != tt.want {
			t.Errorf("section %d on %s %v: %v, want %v", tt.s, tt.name, tt.changes, got, tt.want)
		}
	}
	symTests := []struct {
		s      int
		lib    Target
		change elfdiff.Change
		want   bool
	}{
		{2, lib, elfdiff.Change{Kind: elfdiff.SymbolRemoved, Symbol: "internal_f", SymbolType: "FUNC"}, true},
		{2, lib, elfdiff.Change{Kind: elfdiff.SymbolAdded, Symbol: "internal_f", SymbolType: "FUNC"}, false},
		{2, Target{Path: "liby.so", SONAME: "liby.so.1"}, elfdiff.Change{Kind: elfdiff.SymbolRemoved, Symbol: "internal_f", SymbolType: "FUNC"}, false},
		{2, lib, elfdiff.Change{Kind: elfdiff.SymbolRemoved, Symbol: "internal_v", SymbolType: "OBJECT"}, false},
		{3, lib, elfdiff.Change{Kind: elfdiff.SymbolSizeChanged, Symbol: "table@@V2", SymbolType: "OBJECT"}, true},
		{3, lib, elfdiff.Change{Kind: elfdiff.SymbolSizeChanged, Symbol: "table@V1", SymbolType: "OBJECT"}, false},
	}
	for _, tt := range symTests {
		if got := ss[tt.s].SuppressesSymbol(tt.lib, tt.change, tt.change.Symbol); got != tt.want {
			t.Errorf("section %d on %+v in %s: %v, want %v", tt.s, tt.change, tt.lib.SONAME, got, tt.want)
		}
	}
	if !ss[4].SuppressesFile(Target{Path: "/tmp/libtest.so"}) || ss[4].SuppressesFile(lib) || ss[0].SuppressesFile(lib) {
		t.Error("suppress_file matched wrongly")
	}
}
