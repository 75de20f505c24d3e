package main

import (
	"debug/dwarf"
	"debug/elf"
	"fmt"
	"strings"
	"testing"
)

// TestHeaderGroundTruth builds small libraries of the header shape and
// checks that compatgate finds exactly the ground-truth changes, and that
// every unit's DWARF defines every struct: the repetition the shape is for.
func TestHeaderGroundTruth(t *testing.T) {
	for _, s := range []headerShape{
		{Structs: 10, Functions: 10, Units: 1},                // one ring, one unit, one change
		{Structs: 23, Functions: 40, Units: 3},                // a short last ring
		{Structs: 100, Functions: 250, Units: 7},              // 2%: both kinds of change
		{Structs: 100, Functions: 130, Units: 4, Owner: true}, // one SCC: every function reaches every change
	} {
		c, oldSO, newSO := buildArchive(t, generateHeader(s))
		checkGroundTruth(t, fmt.Sprintf("%+v", s), c, oldSO, newSO)
		for _, so := range []string{oldSO, newSO} {
			perUnit, err := structsPerUnit(so)
			if err != nil {
				t.Fatal(err)
			}
			if len(perUnit) != s.Units {
				t.Errorf("%+v: %s has %d units, want %d", s, so, len(perUnit), s.Units)
			}
			for u, n := range perUnit {
				if n != s.Structs {
					t.Errorf("%+v: %s: unit %d defines %d of the %d structs s<N>", s, so, u, n, s.Structs)
				}
			}
		}
	}
}

// TestHeaderShapeCheck checks which sizes the generator accepts.
func TestHeaderShapeCheck(t *testing.T) {
	for _, tc := range []struct {
		s    headerShape
		want string // "" for valid, else a substring of the error
	}{
		{headerShape{Structs: 400, Functions: 4000, Units: 40}, ""},
		{headerShape{Structs: 10, Functions: 10, Units: 10}, ""},
		{headerShape{Structs: 9, Functions: 100, Units: 1}, "-structs 9"},
		{headerShape{Structs: 100, Functions: 99, Units: 1}, "-functions 99"},
		{headerShape{Structs: 10, Functions: 10, Units: 0}, "-units 0"},
		{headerShape{Structs: 10, Functions: 10, Units: 11}, "-units 11"},
	} {
		err := tc.s.check()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: error %v, want %q", tc.s, err, tc.want)
		}
	}
}

// TestHeaderChanged checks that 2% of the structs change, both kinds
// alternating, at the sizes.
func TestHeaderChanged(t *testing.T) {
	for _, tc := range []struct {
		structs, changed, grown int
	}{
		{10, 1, 0},
		{100, 2, 1},
		{400, 8, 4},
		{2000, 40, 20},
	} {
		c := headerShape{Structs: tc.structs}.changed()
		grown := 0
		for _, i := range c {
			if grows(i) {
				grown++
			}
		}
		if len(c) != tc.changed || grown != tc.grown {
			t.Errorf("%d structs: %d changed, %d grown; want %d, %d", tc.structs, len(c), grown, tc.changed, tc.grown)
		}
	}
}

// structsPerUnit counts, in each compilation unit of the library at path,
// the struct definitions named s<N>.
func structsPerUnit(path string) ([]int, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	d, err := f.DWARF()
	if err != nil {
		return nil, err
	}
	var out []int
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil {
			return nil, err
		}
		if e == nil {
			return out, nil
		}
		switch {
		case e.Tag == dwarf.TagCompileUnit:
			out = append(out, 0)
		case e.Tag == dwarf.TagStructType && len(out) > 0:
			name, _ := e.Val(dwarf.AttrName).(string)
			if decl, _ := e.Val(dwarf.AttrDeclaration).(bool); strings.HasPrefix(name, "s") && !decl {
				out[len(out)-1]++
			}
		}
		if e.Tag != dwarf.TagCompileUnit && e.Children {
			r.SkipChildren()
		}
	}
}
