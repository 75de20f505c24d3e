package elfdiff

import (
	"github.com/compatgate/compatgate/elfdiff/cxx"

	"slices"
	"strings"
	"testing"
)

// TestDiffSlots runs the slot alignment over hand-made vtables: each slot
// is a mangled target, "pure", "null" or "" (an unnamed local function).
func TestDiffSlots(t *testing.T) {
	const (
		af   = "_ZN1A1fEv"
		ag   = "_ZN1A1gEv"
		ah   = "_ZN1A1hEv"
		bf   = "_ZN1B1fEv"
		ad1  = "_ZN1AD1Ev"
		ad0  = "_ZN1AD0Ev"
		pure = "__cxa_pure_virtual"
	)
	tests := []struct {
		name     string
		old, new []string
		want     []string // "kind where"
	}{
		{"same", []string{af, ag}, []string{af, ag}, nil},
		{"appended", []string{af, ag}, []string{af, ag, ah}, []string{"virtual-appended slot 2"}},
		{"inserted", []string{af, ag}, []string{af, ah, ag}, []string{"virtual-inserted slot 1"}},
		{"removed", []string{af, ag, ah}, []string{af, ah}, []string{"virtual-removed slot 1"}},
		{"swapped", []string{af, ag, ah}, []string{af, ah, ag}, []string{"virtual-moved slot 1", "virtual-moved slot 2"}},
		{"replaced", []string{af, ag}, []string{af, ah}, []string{"virtual-replaced slot 1"}},
		{"became-pure", []string{af, ag}, []string{pure, ag}, []string{"virtual-became-pure slot 0"}},
		{"became-concrete", []string{pure, ag}, []string{af, ag}, []string{"virtual-became-concrete slot 0"}},
		{"overridden", []string{af}, []string{bf}, []string{"virtual-overridden slot 0"}},
		{"abstract-dtor-nulls", []string{ad1, ad0, af}, []string{"null", "null", af}, nil},
		{"unnamed-moved-address", []string{"", af}, []string{"", af}, nil},
		{"dtor-variants", []string{ad1, ad0}, []string{ad0, ad1}, []string{"virtual-moved slot 0", "virtual-moved slot 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &vdiffer{old: &Corpus{}, new: &Corpus{}}
			slots := func(ts []string, addr uint64) []cxx.Slot {
				var out []cxx.Slot
				for i, s := range ts {
					switch s {
					case "null":
						out = append(out, cxx.Slot{})
					case "":
						out = append(out, cxx.Slot{Addr: addr + uint64(i)})
					default:
						out = append(out, cxx.Slot{Target: s})
					}
				}
				return out
			}
			cs := d.diffSlots("A", "", slotIDs(slots(tt.old, 0x1000)), slotIDs(slots(tt.new, 0x2000)))
			var got []string
			for _, c := range cs {
				got = append(got, string(c.Kind)+" "+c.Where)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("diffSlots(%v → %v) =\n  %s\nwant\n  %s", tt.old, tt.new, strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
}
