package elfdiff

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compatgate/compatgate/internal/testlib"
)

func TestLastIdentifier(t *testing.T) {
	tests := []struct{ class, want string }{
		{"C", "C"},
		{"ns::A<int>::C<long>", "C"},
		{"A<B::C, D<E::F> >", "A"},
		{"f(ns::X)::Local", "Local"},
		{"(anonymous namespace)::Hidden", "Hidden"},
		{"Tagged[abi:cxx11]", "Tagged"},
		{"std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >", "basic_string"},
		{"ns::{lambda(int)#1}", ""},
		{"{unnamed type#1}", ""},
		{"void (*)(ns::X const&)", ""},
		{"int*", ""},
		{"int [4]", ""},
		{"_9digits", "_9digits"},
		{"9digits", ""},
	}
	for _, tt := range tests {
		if got := lastIdentifier(tt.class); got != tt.want {
			t.Errorf("lastIdentifier(%q) = %q, want %q", tt.class, got, tt.want)
		}
	}
}

func TestSpellsIdentifier(t *testing.T) {
	tests := []struct {
		name  string
		ident string
		want  bool
	}{
		{"_ZN1C1fEv", "C", true},
		{"_ZN2CC1fEv", "C", false},           // CC, then f
		{"_ZN3Foo3barEv", "Foo", true},       //
		{"_ZN3Foo3barEv", "bar", true},       //
		{"_ZN3Foo3barEv", "oo", false},       // not a whole source name
		{"_ZN2ns1AILi13EE3getEv", "A", true}, //
		{"_ZNK1AILi13EE3FooEv", "Foo", true}, // the length follows another digit: "13" then "3Foo"
		{"_ZN9LongerNam1fEv", "LongerNam", true},
		{"_Z1fv", "g", false},
		{"_ZN99Trunc", "Trunc", false}, // the length runs past the end
	}
	for _, tt := range tests {
		if got := spellsIdentifier(tt.name, map[string]bool{tt.ident: true}); got != tt.want {
			t.Errorf("spellsIdentifier(%q, %q) = %v, want %v", tt.name, tt.ident, got, tt.want)
		}
	}
}

// memberFilterSrc has members of the kinds of classes memberFilter tells
// apart: plain, templates, nested, local, in an anonymous namespace, with
// an ABI tag, lambdas and unnamed classes with vtables, and the typeinfo of
// types that are not classes.
const memberFilterSrc = `#include <functional>
#include <string>
#include <typeinfo>
namespace ns {
struct Base { virtual ~Base(); virtual int f(int); static int count; };
Base::~Base() {}
int Base::f(int x) { return x; }
int Base::count;
template <class T, int N> struct Tmpl : Base { int f(int) override; T t[N]; };
template <class T, int N> int Tmpl<T, N>::f(int x) { return x + N; }
template struct Tmpl<long, 13>;
struct Outer { struct Inner { virtual ~Inner(); }; };
Outer::Inner::~Inner() {}
struct [[gnu::abi_tag("v2")]] Tagged { virtual ~Tagged(); };
Tagged::~Tagged() {}
}
namespace {
struct Hidden : ns::Base { int f(int) override { return 1; } };
}
ns::Base* makeHidden() { return new Hidden; }
ns::Base* makeLocal() {
	struct Local : ns::Base { int f(int) override { return 2; } };
	return new Local;
}
namespace ns {
template <class T> struct Holder { std::function<int(T)> cb = [](T x) __attribute__((noinline)) { return int(x) + 1; }; virtual ~Holder() {} };
template struct Holder<long>;
inline Base* inlineLocal() {
	struct Local : Base { int f(int) override { return 3; } };
	static Local l;
	return &l;
}
}
ns::Holder<long>* makeHolder() { return new ns::Holder<long>; }
ns::Base* makeInlineLocal() { return ns::inlineLocal(); }
const std::type_info& functionType() { return typeid(void (*)(ns::Base&, std::string)); }
const std::type_info& arrayType() { return typeid(int[4]); }
std::string greet(const std::string& s) { return s + "!"; }
`

// TestMemberFilter checks that memberFilter passes every member of every
// class with a vtable or typeinfo, in a library built with the kinds of classes it tells apart and
// in the system's libstdc++ (whose std::string, allocators and streams
// have abbreviated names): a member it rejects would be missing from the
// symbols a vtable change affects.
func TestMemberFilter(t *testing.T) {
	libs := []string{testlib.BuildLib(t, "g++", memberFilterSrc, "-O1", "-std=c++17")}
	if out, err := exec.Command("g++", "-print-file-name=libstdc++.so.6").Output(); err == nil {
		if p := strings.TrimSpace(string(out)); filepath.IsAbs(p) {
			libs = append(libs, p)
		}
	}
	for _, lib := range libs {
		t.Run(filepath.Base(lib), func(t *testing.T) {
			c, err := LoadWith(lib, LoadOptions{NoDebugInfo: true})
			if err != nil {
				t.Fatal(err)
			}
			// The classes a check asks for are those with a vtable or
			// typeinfo.
			members := make(map[string][]string)
			for _, s := range c.Symbols() {
				if strings.HasPrefix(s.Name, "_ZTV") || strings.HasPrefix(s.Name, "_ZTI") {
					members[memberOf(s.Name)] = nil
				}
			}
			for _, s := range c.Symbols() {
				if class := memberOf(s.Name); class != "" {
					if _, ok := members[class]; ok {
						members[class] = append(members[class], s.Name)
					}
				}
			}
			rejected := 0
			for class, names := range members {
				f := newMemberFilter(map[string]bool{class: true})
				for _, name := range names {
					if !f.pass(name) {
						t.Errorf("the filter for %q rejects its member %s", class, name)
					}
				}
				for _, s := range c.Symbols() {
					if !f.pass(s.Name) {
						rejected++
					}
				}
			}
			if testing.Verbose() && len(members) < 20 {
				for class, names := range members {
					t.Logf("%s: %v", class, names)
				}
			}
			t.Logf("%d classes; the filters rejected %d names without demangling them", len(members), rejected)
			if rejected == 0 {
				t.Error("the filters rejected no name")
			}
		})
	}
}
