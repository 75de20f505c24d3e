package dwarfdec

import (
	"bytes"
	"debug/dwarf"
	"fmt"
	"testing"

	"github.com/compatgate/compatgate/elfdiff/internal/testlib"
)

// encodingHeader is included by every unit of the library
// TestSameEncodingAgreesWithDecoded reads; WIDE changes some of its types,
// some only in one value: an enumerator's, a member's offset (the unnamed
// bit-field, which DWARF does not describe, moves b), a bit-field's.
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
typedef struct node node_t;
struct holder {
	node_t *head;
	union val v;
	int (*cb)(struct holder *, int);
	const char *name;
	float m[2][3];
};
`

// encodingUnits returns the sources of four units including
// encodingHeader: two alike, one with WIDE, one that includes another
// header first, so that its copies of the header's types are at other
// offsets and its line table numbers types.h otherwise.
func encodingUnits() map[string]string {
	use := func(u string) string {
		return fmt.Sprintf("int %[1]s_h(struct holder *h) { return h->head->id + h->v.i; }\n"+
			"int %[1]s_c(enum color c, node_t *n) { return (int)c + n->low; }\n"+
			"int %[1]s_l(struct loc *l, struct bits *b) { return l->b + b->high; }\n", u)
	}
	return map[string]string{
		"types.h": encodingHeader,
		"a.c":     "#include \"types.h\"\n" + use("a"),
		"b.c":     "#include \"types.h\"\n" + use("b"),
		"c.c":     "#define WIDE\n#include \"types.h\"\n" + use("c"),
		"own.h":   "struct own { char tag[3]; long long v; };\n",
		"d.c":     "#include \"own.h\"\nint d_own(struct own *o) { return o->tag[0]; }\n#include \"types.h\"\n" + use("d"),
	}
}

// TestSameEncodingAgreesWithDecoded compares the copies of each named type
// of a library whose units include one header, every pair of units, by
// their encodings (sameEncoding) and decoded (sameDecoded): where
// sameEncoding decides, it must answer as the decoded comparison does, and
// it must decide both ways.
func TestSameEncodingAgreesWithDecoded(t *testing.T) {
	df := openScanLib(t, testlib.BuildUnitsWith(t, "gcc", encodingUnits()))
	byUnit := testlib.EntriesByUnit(t, mustDWARF(t, df))
	if len(byUnit) != 4 {
		t.Fatalf("%d units, want 4", len(byUnit))
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
	var count [2][2]int // [decided][same]
	for k, offs := range copies {
		for x := range offs {
			for y := x + 1; y < len(offs); y++ {
				a, b := offs[x], offs[y]
				j.assumed = map[[2]dwarf.Offset]bool{{a, b}: true}
				same, decided, _ := dd.sameEncoding(a, b, j.compared, j)
				j.assumed = map[[2]dwarf.Offset]bool{}
				want := j.same(a, b)
				if decided && same != want {
					t.Errorf("%v %s at %#x and %#x: sameEncoding says same=%v, the decoded DIEs %v", k.tag, k.name, a, b, same, want)
				}
				count[b2i(decided)][b2i(want)]++
			}
		}
	}
	t.Logf("pairs [undecided, decided] × [differ, same]: %v", count)
	if count[1][0] == 0 || count[1][1] == 0 {
		t.Errorf("sameEncoding decided %d pairs that differ and %d that are the same: want some of each", count[1][0], count[1][1])
	}
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
