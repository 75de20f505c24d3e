package elfdiff

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadVTables compiles small libraries with g++ (no debug info) and
// checks the vtable groups read from their sections and relocations.
func TestReadVTables(t *testing.T) {
	if _, err := exec.LookPath("g++"); err != nil {
		t.Skipf("g++ not installed: %v", err)
	}
	tests := []struct {
		name   string
		flags  string
		src    string
		vtable string
		// want describes each vtable of the group:
		// "offsets|offset-to-top|rtti|slot,slot,…"
		want []string
		// typeinfo is the class's _ZTI and bases its kind and direct
		// bases: "kind name/virtual/public/offset…".
		typeinfo, bases string
	}{
		{
			name:     "single",
			src:      "struct A { virtual ~A(); virtual int f(int); };\nA::~A() {}\nint A::f(int x) { return x; }",
			vtable:   "_ZTV1A",
			want:     []string{"[]|0|_ZTI1A|_ZN1AD1Ev,_ZN1AD0Ev,_ZN1A1fEi"},
			typeinfo: "_ZTI1A", bases: "class",
		},
		{
			name:   "pure-and-abstract",
			src:    "struct I { virtual ~I(); virtual int run() = 0; virtual int stop(); };\nI::~I() {}\nint I::stop() { return 0; }",
			vtable: "_ZTV1I",
			want:   []string{"[]|0|_ZTI1I|@0,@0,__cxa_pure_virtual,_ZN1I4stopEv"},
		},
		{
			name: "multiple-inheritance",
			src: "struct A { virtual ~A(); int a; };\nA::~A() {}\nstruct B { virtual ~B(); virtual int g(); int b; };\nB::~B() {}\nint B::g() { return 1; }\n" +
				"struct C : A, B { ~C(); int g() override; };\nC::~C() {}\nint C::g() { return 2; }",
			vtable: "_ZTV1C",
			want: []string{
				"[]|0|_ZTI1C|_ZN1CD1Ev,_ZN1CD0Ev,_ZN1C1gEv",
				"[]|-16|_ZTI1C|_ZThn16_N1CD1Ev,_ZThn16_N1CD0Ev,_ZThn16_N1C1gEv",
			},
			typeinfo: "_ZTI1C", bases: "vmi A/false/true/0 B/false/true/16",
		},
		{
			name:   "virtual-base",
			src:    "struct V { virtual ~V(); virtual int v(); int x; };\nV::~V() {}\nint V::v() { return 0; }\nstruct X : virtual V { ~X(); int y; };\nX::~X() {}",
			vtable: "_ZTV1X",
			want: []string{
				"[16]|0|_ZTI1X|_ZN1XD1Ev,_ZN1XD0Ev",
				"[0 -16]|-16|_ZTI1X|_ZTv0_n24_N1XD1Ev,_ZTv0_n24_N1XD0Ev,_ZN1V1vEv",
			},
			typeinfo: "_ZTI1X", bases: "vmi V/true/true/-24",
		},
		{
			name:   "no-rtti",
			flags:  "-fno-rtti",
			src:    "struct A { virtual ~A(); virtual int f(); };\nA::~A() {}\nint A::f() { return 1; }",
			vtable: "_ZTV1A",
			want:   []string{"[]|0||_ZN1AD1Ev,_ZN1AD0Ev,_ZN1A1fEv"},
		},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := filepath.Join(dir, tt.name+".cc")
			so := filepath.Join(dir, tt.name+".so")
			if err := os.WriteFile(src, []byte(tt.src), 0o644); err != nil {
				t.Fatal(err)
			}
			args := append([]string{"-shared", "-fPIC", "-g0", "-o", so, src}, strings.Fields(tt.flags)...)
			if out, err := exec.Command("g++", args...).CombinedOutput(); err != nil {
				t.Fatalf("g++: %v\n%s", err, out)
			}
			c, err := LoadWith(so, LoadOptions{NoDebugInfo: true})
			if err != nil {
				t.Fatal(err)
			}
			vt := vtablesOf(c)[tt.vtable]
			if vt == nil {
				t.Fatalf("no vtable %s; have %v", tt.vtable, vtablesOf(c))
			}
			if vt.Err != "" {
				t.Fatalf("vtable error: %s", vt.Err)
			}
			var got []string
			for _, st := range vt.Tables {
				var slots []string
				for _, s := range st.Slots {
					if s.Target == "" {
						slots = append(slots, fmt.Sprintf("@%x", s.Addr))
					} else {
						slots = append(slots, s.Target)
					}
				}
				got = append(got, fmt.Sprintf("%v|%d|%s|%s", st.Offsets, st.OffsetToTop, st.RTTI, strings.Join(slots, ",")))
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("vtable group of %s:\n got %q\nwant %q", tt.vtable, got, tt.want)
			}
			if tt.typeinfo == "" {
				return
			}
			ti := c.CXX.Typeinfo[tt.typeinfo]
			if ti == nil || ti.Err != "" {
				t.Fatalf("typeinfo %s: %+v", tt.typeinfo, ti)
			}
			desc := ti.Kind
			for _, b := range ti.Bases {
				desc += fmt.Sprintf(" %s/%v/%v/%d", b.Name, b.Virtual, b.Public, b.Offset)
			}
			if desc != tt.bases {
				t.Errorf("typeinfo %s = %q, want %q", tt.typeinfo, desc, tt.bases)
			}
		})
	}
}

// FuzzCXXTables mutates a small C++ library with vtables, typeinfo and
// virtual bases: loading and diffing must never panic.
func FuzzCXXTables(f *testing.F) {
	if _, err := exec.LookPath("g++"); err != nil {
		f.Skipf("g++ not installed: %v", err)
	}
	dir := f.TempDir()
	src := filepath.Join(dir, "lib.cc")
	so := filepath.Join(dir, "lib.so")
	code := "struct V { virtual ~V(); virtual int v(); int x; };\nV::~V() {}\nint V::v() { return 0; }\n" +
		"struct A { virtual ~A(); virtual int a() = 0; };\nA::~A() {}\n" +
		"struct X : A, virtual V { ~X(); int a(); };\nX::~X() {}\nint X::a() { return 1; }\n"
	if err := os.WriteFile(src, []byte(code), 0o644); err != nil {
		f.Fatal(err)
	}
	if out, err := exec.Command("g++", "-shared", "-fPIC", "-g0", "-o", so, src).CombinedOutput(); err != nil {
		f.Fatalf("g++: %v\n%s", err, out)
	}
	seed, err := os.ReadFile(so)
	if err != nil {
		f.Fatal(err)
	}
	base, err := loadReader("seed.so", bytes.NewReader(seed))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := loadReader("fuzz.so", bytes.NewReader(data))
		if err != nil {
			return
		}
		if _, err := Diff(base, c); err != nil && c.Class == base.Class {
			t.Fatalf("Diff: %v", err)
		}
	})
}
