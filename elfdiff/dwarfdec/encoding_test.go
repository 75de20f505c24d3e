package dwarfdec

import (
	"bytes"
	"debug/dwarf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/compatgate/compatgate/internal/testlib"
)

// encodingHeader is included by every unit of the library
// TestSameEncodingAgreesWithDecoded reads; WIDE changes some of its types,
// some only in one value: an enumerator's, a member's offset (the unnamed
// bit-field, which DWARF does not describe, moves b), a bit-field's, the
// names of members (one long, in .debug_str, one short, in the DIE).
const encodingHeader = `
enum color { RED,
#ifdef WIDE
	GREEN = 5,
#else
	GREEN,
#endif
	BLUE };
struct loc {
	int d;
	char a;
#ifdef WIDE
	short : 0;
#endif
	char b;
};
struct bits {
	unsigned low : 3,
#ifdef WIDE
		: 2,
#endif
		high : 5;
};
struct node {
	int id;
#ifdef WIDE
	long pad;
#endif
	struct node *next;
	enum color c;
	unsigned low : 3, high : 5;
};
union val { int i; double d; char s[8]; };
#ifdef WIDE
#define LONGNAME count
#define SHORTNAME xy
#else
#define LONGNAME total
#define SHORTNAME uv
#endif
struct lname { int LONGNAME; short s; };
struct sname { int i; short SHORTNAME; };
typedef struct node node_t;
struct holder {
	node_t *head;
	union val v;
	int (*cb)(struct holder *, int);
	const char *name;
	float m[2][3];
};
`

// encodingUnits returns the sources of five units: four including
// encodingHeader (two alike, one with WIDE, one that includes another
// header first, so that its copies of the header's types are at other
// offsets and its line table numbers types.h otherwise), and one with a
// struct loc like types.h's on the same line of another header, whose
// copies differ only in their declaring file.
func encodingUnits() map[string]string {
	use := func(u string) string {
		return fmt.Sprintf("int %[1]s_h(struct holder *h) { return h->head->id + h->v.i; }\n"+
			"int %[1]s_c(enum color c, node_t *n) { return (int)c + n->low; }\n"+
			"int %[1]s_l(struct loc *l, struct bits *b) { return l->b + b->high; }\n"+
			"int %[1]s_n(struct lname *l, struct sname *s) { return sizeof *l + sizeof *s; }\n", u)
	}
	return map[string]string{
		"types.h": encodingHeader,
		"a.c":     "#include \"types.h\"\n" + use("a"),
		"b.c":     "#include \"types.h\"\n" + use("b"),
		"c.c":     "#define WIDE\n#include \"types.h\"\n" + use("c"),
		"own.h":   "struct own { char tag[3]; long long v; };\n",
		"d.c":     "#include \"own.h\"\nint d_own(struct own *o) { return o->tag[0]; }\n#include \"types.h\"\n" + use("d"),
		"alt.h":   locOnly(encodingHeader),
		"e.c":     "#include \"alt.h\"\nint e_l(struct loc *l) { return l->b; }\n",
	}
}

// locOnly returns header with all but its struct loc left out, and that
// on its lines.
func locOnly(header string) string {
	start := strings.Index(header, "struct loc")
	end := start + strings.Index(header[start:], "};") + len("};")
	return strings.Repeat("\n", strings.Count(header[:start], "\n")) + header[start:end] + "\n"
}

// TestSameEncodingAgreesWithDecoded compares the copies of each named type
// of a library whose units include one header, every pair of units, by
// their encodings (sameEncoding) and decoded (sameDecoded): where
// sameEncoding decides, it must answer as the decoded comparison does, and
// it must decide both ways.
func TestSameEncodingAgreesWithDecoded(t *testing.T) {
	df := openScanLib(t, testlib.BuildUnitsWith(t, "gcc", encodingUnits()))
	byUnit := testlib.EntriesByUnit(t, mustDWARF(t, df))
	if len(byUnit) != 5 {
		t.Fatalf("%d units, want 5", len(byUnit))
	}
	dd := NewDecoder(df.Sec, scannedHeaders(t, df))
	j := &decodedJudge{t: t, dd: dd, compared: NewSlotSet(
		SlotName, SlotLinkageName, SlotType, SlotDataMemberLoc, SlotByteSize, SlotEncoding,
		SlotBitSize, SlotDataBitOffset, SlotBitOffset, SlotConstValue, SlotCount, SlotUpperBound,
		SlotDeclFile, SlotDeclLine)}
	type key struct {
		tag  dwarf.Tag
		name string
	}
	copies := map[key][]dwarf.Offset{}
	for _, unit := range byUnit {
		for _, e := range unit {
			if name, ok := e.Val(dwarf.AttrName).(string); ok && e.Tag != dwarf.TagSubprogram && e.Tag != dwarf.TagFormalParameter {
				k := key{e.Tag, name}
				copies[k] = append(copies[k], e.Offset)
			}
		}
	}
	// Each way the DIEs' values are read in step: by the plans of their
	// abbreviations, and attribute by attribute.
	for _, unplanned := range []bool{false, true} {
		dd.unplanned = unplanned
		var count [2][2]int // [decided][same]
		planned := 0        // pairs whose first DIEs share a plan
		for k, offs := range copies {
			for x := range offs {
				for y := x + 1; y < len(offs); y++ {
					a, b := offs[x], offs[y]
					if samePlan(t, dd, a, b, j.compared) {
						planned++
					}
					j.assumed = map[[2]dwarf.Offset]bool{{a, b}: true}
					same, decided, _ := dd.sameEncoding(a, b, j.compared, j)
					j.assumed = map[[2]dwarf.Offset]bool{}
					want := j.same(a, b)
					if decided && same != want {
						t.Errorf("unplanned=%v: %v %s at %#x and %#x: sameEncoding says same=%v, the decoded DIEs %v", unplanned, k.tag, k.name, a, b, same, want)
					}
					count[b2i(decided)][b2i(want)]++
				}
			}
		}
		t.Logf("unplanned=%v: pairs [undecided, decided] × [differ, same]: %v; %d of them of one plan", unplanned, count, planned)
		if count[1][0] == 0 || count[1][1] == 0 {
			t.Errorf("unplanned=%v: sameEncoding decided %d pairs that differ and %d that are the same: want some of each", unplanned, count[1][0], count[1][1])
		}
		if planned == 0 {
			t.Error("no pair of DIEs has one comparison plan")
		}
	}
}

// samePlan reports whether the DIEs at a and b have one comparison plan.
func samePlan(t *testing.T, dd *Decoder, a, b dwarf.Offset, compared SlotSet) bool {
	t.Helper()
	var plans [2]*comparePlan
	for i, off := range []dwarf.Offset{a, b} {
		u, err := dd.unitAt(off)
		if err != nil {
			t.Fatal(err)
		}
		buf := ScanBuf{Data: dd.sec.Info[:u.end], Pos: uint64(off), Order: dd.sec.Order}
		ab, err := dd.abbrevAt(u, &buf)
		if err != nil || ab == nil {
			t.Fatalf("DIE at %#x: %v", off, err)
		}
		plans[i] = dd.planOf(u, ab, compared|1<<slotDeclaration)
	}
	return plans[0] == plans[1]
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// decodedJudge compares DIEs decoded by Read and Next (sameDecoded), and
// judges sameEncoding's references with that comparison.
type decodedJudge struct {
	t        *testing.T
	dd       *Decoder
	compared SlotSet
	assumed  map[[2]dwarf.Offset]bool
}

func (j *decodedJudge) Enter(dwarf.Tag, dwarf.Offset, dwarf.Offset) bool { return true }

func (j *decodedJudge) SameRef(_ Slot, a, b dwarf.Offset) bool { return j.same(a, b) }

func (j *decodedJudge) SameDeclFile(unitA, unitB dwarf.Offset, na, nb int64) bool {
	fa, fb := j.files(unitA), j.files(unitB)
	return na >= 0 && nb >= 0 && na < int64(len(fa)) && nb < int64(len(fb)) && bytes.Equal(fa[na], fb[nb])
}

// files returns the line table's file names of the unit of the DIE at off.
func (j *decodedJudge) files(off dwarf.Offset) [][]byte {
	u, err := j.dd.unitAt(off)
	if err != nil {
		j.t.Fatal(err)
	}
	names, err := j.dd.LineFiles(dwarf.Offset(u.first))
	if err != nil {
		j.t.Fatal(err)
	}
	return names
}

// same compares the DIEs at a and b, assuming the pairs it is comparing
// the same, so that cycles compare equal.
func (j *decodedJudge) same(a, b dwarf.Offset) bool {
	if a == b || j.assumed[[2]dwarf.Offset{a, b}] {
		return true
	}
	j.assumed[[2]dwarf.Offset{a, b}] = true
	var da, db DIE
	if j.dd.Read(a, &da) != nil || j.dd.Read(b, &db) != nil {
		return false
	}
	return j.dd.sameDecoded(&da, &db, j.compared, j)
}

// siblingHeader declares a struct with a nested struct: g++ gives the
// nested struct's DIE children and a DW_AT_sibling, the member after it.
const siblingHeader = `
struct outer {
	struct inner { int x; int z; };
	inner in;
	int y;
	long w;
};
`

// TestSameEncodingFollowsSiblings compares two copies of struct outer
// whose bytes are the same but for the nested struct's DW_AT_sibling: in
// the second unit it points past the member after it, as a malformed
// producer could write it, so that Read, which follows it, leaves out
// member "in". sameEncoding must not call the copies the same.
func TestSameEncodingFollowsSiblings(t *testing.T) {
	if _, err := exec.LookPath("g++"); err != nil {
		t.Skip("g++ not installed")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "outer.h"), []byte(siblingHeader), 0o644); err != nil {
		t.Fatal(err)
	}
	asm := func(unit string) string {
		src := filepath.Join(dir, unit+".cc")
		code := fmt.Sprintf("#include \"outer.h\"\nint use_%s(outer *o) { return o->y + o->in.z; }\n", unit)
		if err := os.WriteFile(src, []byte(code), 0o644); err != nil {
			t.Fatal(err)
		}
		// -dA names each DIE and attribute in a comment.
		out, err := exec.Command("g++", "-S", "-g", "-O1", "-gdwarf-5", "-dA", "-fPIC", "-o", "-", src).Output()
		if err != nil {
			t.Fatalf("g++ -S %s: %v", src, err)
		}
		return string(out)
	}
	good, bad := asm("a"), redirectSibling(t, asm("b"), "inner", "y")
	df := openScanLib(t, testlib.BuildUnitsWith(t, "g++", map[string]string{"a.s": good, "b.s": bad}))
	var outers []dwarf.Offset
	for _, unit := range testlib.EntriesByUnit(t, mustDWARF(t, df)) {
		for _, e := range unit {
			if e.Tag == dwarf.TagStructType && e.Val(dwarf.AttrName) == "outer" {
				outers = append(outers, e.Offset)
			}
		}
	}
	if len(outers) != 2 {
		t.Fatalf("%d copies of struct outer, want 2", len(outers))
	}
	dd := NewDecoder(df.Sec, scannedHeaders(t, df))
	compared := NewSlotSet(SlotName, SlotType, SlotDataMemberLoc, SlotByteSize, SlotEncoding, SlotDeclFile, SlotDeclLine)
	j := &decodedJudge{t: t, dd: dd, compared: compared, assumed: map[[2]dwarf.Offset]bool{}}
	a, b := outers[0], outers[1]
	if j.same(a, b) {
		t.Fatal("the decoded copies are the same: the redirected DW_AT_sibling was not followed")
	}
	if !samePlan(t, dd, a, b, compared) {
		t.Fatal("the copies of struct outer have two comparison plans: the plans' reading of DW_AT_sibling is not tested")
	}
	for _, unplanned := range []bool{false, true} {
		dd.unplanned = unplanned
		j.assumed = map[[2]dwarf.Offset]bool{{a, b}: true}
		if same, decided, _ := dd.sameEncoding(a, b, compared, j); same && decided {
			t.Errorf("unplanned=%v: sameEncoding calls the copies the same", unplanned)
		}
	}
}

// redirectSibling returns the assembly s (written with -dA) with the
// DW_AT_sibling of the DIE named from pointing at the DIE named to.
func redirectSibling(t *testing.T, s, from, to string) string {
	t.Helper()
	// A DIE's comment gives its offset; its name follows on the next
	// line, from .debug_str or inline.
	named := func(name string) (offset string, end int) {
		re := regexp.MustCompile(`\(DIE \((0x[0-9a-f]+)\) DW_TAG_\w+\)\n[^\n]*(?:DW_AT_name: "` + name + `"|\.ascii "` + name + `\\0")`)
		m := re.FindStringSubmatchIndex(s)
		if m == nil {
			t.Fatalf("no DIE named %s in the assembly", name)
		}
		return s[m[2]:m[3]], m[1]
	}
	target, _ := named(to)
	_, start := named(from)
	loc := regexp.MustCompile(`\.long\t0x[0-9a-f]+\t# DW_AT_sibling`).FindStringIndex(s[start:])
	if loc == nil {
		t.Fatalf("DIE %s has no DW_AT_sibling", from)
	}
	return s[:start+loc[0]] + ".long\t" + target + "\t# DW_AT_sibling" + s[start+loc[1]:]
}
