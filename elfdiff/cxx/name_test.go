package cxx

import (
	"slices"
	"testing"
)

func TestParseName(t *testing.T) {
	tests := []struct {
		name      string
		special   Special
		entity    string
		scope     string
		params    []string
		quals     string
		ref       string
		ret       string
		variant   string
		sig       string
		methodKey string
	}{
		{name: "_ZNK2ns1A1fEi", entity: "ns::A::f", scope: "ns::A", params: []string{"int"}, quals: "const",
			sig: "ns::A::f(int) const", methodKey: "f(int) const"},
		{name: "_ZNVO1A1hEv", entity: "A::h", scope: "A", quals: "volatile", ref: "&&",
			sig: "A::h() volatile &&", methodKey: "h() volatile &&"},
		{name: "_ZNKR1A1hEv", entity: "A::h", scope: "A", quals: "const", ref: "&", sig: "A::h() const &"},
		{name: "_ZN1AC1Ev", entity: "A::A", scope: "A", variant: "C1", sig: "A::A()"},
		{name: "_ZN1AC2ERKS_", entity: "A::A", scope: "A", params: []string{"A const&"}, variant: "C2"},
		{name: "_ZN1AD0Ev", entity: "A::~A", scope: "A", variant: "D0", methodKey: "~(D0)"},
		{name: "_ZN2C1C1Ev", entity: "C1::C1", scope: "C1", variant: "C1"}, // a class called C1
		{name: "_ZN4XC1EC2Ev", entity: "XC1E::XC1E", scope: "XC1E", variant: "C2"},
		{name: "_ZN1AIiEC2Ev", entity: "A<int>::A", scope: "A<int>", variant: "C2"},
		{name: "_ZN1AC1B5cxx11Ev", entity: "A::A[abi:cxx11]", scope: "A", variant: "C1"},
		{name: "_ZZN2ns1fEvEN5Local1gEi", entity: "ns::f()::Local::g", scope: "ns::f()::Local", params: []string{"int"},
			sig: "ns::f()::Local::g(int)", methodKey: "g(int)"}, // a method of a local class
		{name: "_ZTV1A", special: VTableSymbol, entity: "A", scope: "A"},
		{name: "_ZTIN2ns1AE", special: TypeinfoSymbol, entity: "ns::A", scope: "ns::A"},
		{name: "_ZTS1A", special: TypeinfoNameSymbol, entity: "A", scope: "A"},
		{name: "_ZTT1C", special: VTTSymbol, entity: "C", scope: "C"},
		{name: "_ZThn8_N1B1fEv", special: Thunk, entity: "B::f", scope: "B", methodKey: "f()"},
		{name: "_ZTv0_n24_N1XD1Ev", special: VirtualThunk, entity: "X::~X", scope: "X", variant: "D1", methodKey: "~(D1)"},
		{name: "_Z1fIiET_S0_", entity: "f<int>", params: []string{"int"}, ret: "int", sig: "f<int>(int)"},
		{name: "_ZN1A1fIiEEvT_", entity: "A::f<int>", scope: "A", params: []string{"int"}, ret: "void", methodKey: "f<int>(int)"},
		{name: "_ZN2ns1vE", entity: "ns::v", scope: "ns", sig: "ns::v"},
		{name: "_ZGVZN1A1gEvE1x", special: GuardVariable, entity: "A::g()::x", scope: "A::g()"},
		{name: "_Z1fv", entity: "f", sig: "f()"},
		{name: "puts", special: NotMangled, entity: "puts"},
		{name: "_Zbogus", special: Unparsed, entity: "_Zbogus"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := ParseName(tt.name)
			if n.Special != tt.special || n.Entity != tt.entity || n.Scope != tt.scope ||
				!slices.Equal(n.Params, tt.params) || n.Quals != tt.quals || n.Ref != tt.ref ||
				n.Return != tt.ret || n.Variant != tt.variant {
				t.Errorf("ParseName(%q) = %+v", tt.name, n)
			}
			if tt.sig != "" && n.Signature() != tt.sig {
				t.Errorf("Signature() = %q, want %q", n.Signature(), tt.sig)
			}
			if tt.methodKey != "" && n.MethodKey() != tt.methodKey {
				t.Errorf("MethodKey() = %q, want %q", n.MethodKey(), tt.methodKey)
			}
		})
	}
}

func BenchmarkParseName(b *testing.B) {
	names := []string{"_ZNK2ns1A1fEi", "_ZN4llvm12DenseMapBaseINS_8DenseMapIPKvjNS_12DenseMapInfoIS3_vEENS_6detail12DenseMapPairIS3_jEEEES3_jS5_S8_E4growEj", "_ZTV1A"}
	for b.Loop() {
		for _, n := range names {
			ParseName(n)
		}
	}
}
