package dwarfdec

import (
	"bytes"
	"debug/dwarf"
	"fmt"
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
