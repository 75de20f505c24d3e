package abidump_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"testing"

	"github.com/compatgate/compatgate/compat"
	"github.com/compatgate/compatgate/elfdiff"
	"github.com/compatgate/compatgate/elfdiff/abidump"
)

// typeKinds are the kinds a dump's types may have (docs/abi-dump.md).
var typeKinds = []string{"void", "base", "pointer", "reference", "rvalue reference", "const", "volatile",
	"restrict", "_Atomic", "typedef", "struct", "union", "class", "enum", "array", "function", "pointer to member"}

// A typeMutation damages one type of a dump's table, as a hand-edited or
// corrupt dump might: a structure the byte-level fuzzer rarely reaches
// (FuzzRead found const without elem once, in CI).
type typeMutation struct {
	name  string
	apply func(t map[string]any, self int)
}

func typeMutations() []typeMutation {
	ms := []typeMutation{
		{"no-elem", func(t map[string]any, _ int) { delete(t, "elem") }},
		{"elem-self", func(t map[string]any, self int) { t["elem"] = self }},
		{"elem-0", func(t map[string]any, _ int) { t["elem"] = 0 }},
		{"no-members", func(t map[string]any, _ int) { delete(t, "members") }},
		{"member-type-self", func(t map[string]any, self int) {
			t["members"] = []any{map[string]any{"name": "m", "type": self, "offset": 0}}
		}},
		{"no-size", func(t map[string]any, _ int) { delete(t, "size") }},
		{"negative-size", func(t map[string]any, _ int) { t["size"] = -8 }},
		{"huge-count", func(t map[string]any, _ int) { t["count"] = int64(1) << 62 }},
		{"params-self", func(t map[string]any, self int) { t["params"] = []any{self, self} }},
		{"no-name", func(t map[string]any, _ int) { delete(t, "name") }},
		{"declaration", func(t map[string]any, _ int) { t["declaration"] = true }},
		{"class-empty", func(t map[string]any, _ int) { t["class"] = map[string]any{} }},
		{"class-base-self", func(t map[string]any, self int) {
			t["class"] = map[string]any{"bases": []any{map[string]any{"type": self, "offset": 0}}, "vptr": true}
		}},
	}
	for _, k := range typeKinds {
		ms = append(ms, typeMutation{"kind-" + k, func(t map[string]any, _ int) { t["kind"] = k }})
	}
	return ms
}

// TestTypeMutations damages every type of the golden dumps in every way
// of typeMutations, one at a time: Read either refuses the dump or gives
// a corpus that Diff compares with itself and with the undamaged dump,
// both ways, and the reports are written — never a panic.
func TestTypeMutations(t *testing.T) {
	for _, name := range []string{"golden-v1.abi.json", "golden-cxx-v1.abi.json"} {
		src := golden(t, name)
		base, err := abidump.Read(bytes.NewReader(src))
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(src, &doc); err != nil {
			t.Fatal(err)
		}
		types := doc["debug"].(map[string]any)["types"].([]any)
		read, refused := 0, 0
		for i := range types {
			for _, m := range typeMutations() {
				var d map[string]any
				json.Unmarshal(src, &d)
				ty := d["debug"].(map[string]any)["types"].([]any)[i].(map[string]any)
				m.apply(ty, i)
				b, err := marshalDump(d)
				if err != nil {
					t.Fatal(err)
				}
				what := fmt.Sprintf("%s: types[%d] %s", name, i, m.name)
				func() {
					defer func() {
						if r := recover(); r != nil {
							t.Errorf("%s: panic: %v", what, r)
						}
					}()
					c, err := abidump.Read(bytes.NewReader(b))
					if err != nil {
						refused++
						return
					}
					read++
					for _, pair := range [][2]*elfdiff.Corpus{{c, c}, {base, c}, {c, base}} {
						cs, err := elfdiff.Diff(pair[0], pair[1])
						if err != nil {
							continue
						}
						if err := compat.Judge(pair[0], pair[1], cs, nil).WriteJSON(io.Discard); err != nil {
							t.Errorf("%s: writing the report: %v", what, err)
						}
					}
				}()
			}
		}
		t.Logf("%s: %d damaged dumps read and compared, %d refused", name, read, refused)
		if read == 0 {
			t.Errorf("%s: every damaged dump was refused: the test compares nothing", name)
		}
	}
}

// marshalDump encodes a dump decoded into a map, "format" first, as Read
// wants it.
func marshalDump(d map[string]any) ([]byte, error) {
	format := d["format"]
	delete(d, "format")
	rest, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	head, err := json.Marshal(format)
	if err != nil {
		return nil, err
	}
	return append(append([]byte(`{"format":`), head...), append([]byte(","), rest[1:]...)...), nil
}
