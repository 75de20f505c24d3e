package abi

import (
	"debug/dwarf"
	"testing"
)

func TestReservedName(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"std::filesystem::recursive_directory_iterator::_Dir_stack", true},
		{"_Impl", true},
		{"ns::__detail", true},
		{"std::vector<_Tp>", false}, // the template argument is not the class's name
		{"ns::_lower", false},
		{"Widget", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := reservedName(tt.name); got != tt.want {
			t.Errorf("reservedName(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestSimpleName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Box", "Box"},
		{"ns::Box<int>", "Box"},
		{"ns::Box<a::b, c::d<e> >", "Box"},
		{"Outer::Inner", "Inner"},
	}
	for _, tt := range tests {
		if got := simpleName(tt.in); got != tt.want {
			t.Errorf("simpleName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestIsSourceFile(t *testing.T) {
	for name, want := range map[string]bool{
		"../src/c++17/fs_dir.cc": true, "lib.cpp": true, "x.C": true, "a.c": true,
		"include/bits/fs_dir.h": false, "vector": false, "x.hpp": false, "": false,
	} {
		if got := isSourceFile(name); got != want {
			t.Errorf("isSourceFile(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestIsEmptyClass(t *testing.T) {
	empty := &Type{Kind: StructType, Name: "E", Size: 1, Class: &ClassInfo{}}
	derivedEmpty := &Type{Kind: StructType, Name: "D", Size: 1, Class: &ClassInfo{Bases: []Base{{Type: empty}}}}
	withMember := &Type{Kind: StructType, Name: "M", Size: 4, Members: []Member{{Name: "x"}}, Class: &ClassInfo{}}
	poly := &Type{Kind: StructType, Name: "P", Size: 8, Class: &ClassInfo{VPtr: true}}
	cStruct := &Type{Kind: StructType, Name: "C", Size: 1}
	tests := []struct {
		t    *Type
		want bool
	}{
		{empty, true}, {derivedEmpty, true}, {withMember, false}, {poly, false}, {cStruct, false}, {nil, false},
	}
	for _, tt := range tests {
		if got := IsEmptyClass(tt.t); got != tt.want {
			t.Errorf("isEmptyClass(%v) = %v, want %v", tt.t, got, tt.want)
		}
	}
}

func TestMarkInternal(t *testing.T) {
	in := &Type{Kind: StructType, Name: "ns::_Dir_stack", Class: &ClassInfo{Internal: true}}
	tmpl := &Type{Kind: StructType, Name: "std::_Sp_counted_ptr_inplace<ns::_Dir_stack, std::allocator<ns::_Dir_stack> >", Class: &ClassInfo{}}
	nested := &Type{Kind: StructType, Name: "ns::_Dir_stack::_Node", Class: &ClassInfo{}}
	public := &Type{Kind: StructType, Name: "ns::iterator", Class: &ClassInfo{}}
	markInternal(map[dwarf.Offset]*Type{1: in, 2: tmpl, 3: nested, 4: public})
	for _, c := range []*Type{tmpl, nested} {
		if !c.Class.Internal {
			t.Errorf("%s: not marked internal", c.Name)
		}
	}
	if public.Class.Internal {
		t.Errorf("%s: marked internal", public.Name)
	}
}

func TestCompleteSlots(t *testing.T) {
	v := func(name string, slot int64) Method { return Method{Name: name, Virtuality: 1, Slot: slot} }
	tests := []struct {
		name string
		ms   []Method
		want bool
	}{
		{"none", nil, true},
		{"contiguous", []Method{v("a", 0), v("b", 1)}, true},
		{"dtor fills two", []Method{v("~C", 0), v("f", 2)}, true},
		{"gap: a pruned declaration", []Method{v("a", 0), v("c", 2)}, false},
		{"non-virtual ignored", []Method{{Name: "g", Slot: -1}, v("a", 0)}, true},
	}
	for _, tt := range tests {
		if got := CompleteSlots(&ClassInfo{Methods: tt.ms}); got != tt.want {
			t.Errorf("%s: completeSlots = %v, want %v", tt.name, got, tt.want)
		}
	}
}
