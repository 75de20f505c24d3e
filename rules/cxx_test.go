package rules

import (
	"testing"

	"github.com/compatgate/compatgate/elfdiff"
)

// TestCXXRules checks how the text of a C++ change selects among the rules
// of its kind.
func TestCXXRules(t *testing.T) {
	s := Default()
	tests := []struct {
		change elfdiff.Change
		want   string
		sev    Severity
	}{
		{elfdiff.Change{Kind: elfdiff.CXXQualifiersChanged, Old: "", New: "const"}, "method-became-const", Break},
		{elfdiff.Change{Kind: elfdiff.CXXQualifiersChanged, Old: "const &", New: "&"}, "method-lost-const", Break},
		{elfdiff.Change{Kind: elfdiff.CXXQualifiersChanged, Old: "const", New: "const volatile"}, "method-became-volatile", Break},
		{elfdiff.Change{Kind: elfdiff.CXXQualifiersChanged, Old: "volatile", New: ""}, "method-lost-volatile", Break},
		{elfdiff.Change{Kind: elfdiff.CXXQualifiersChanged, Old: "&", New: "&&"}, "method-ref-qualifier-changed", Break},
		{elfdiff.Change{Kind: elfdiff.CXXParamsChanged, Old: "(int)", New: "(long)"}, "function-params-changed", Break},
		{elfdiff.Change{Kind: elfdiff.CXXReturnChanged, Old: "int", New: "long"}, "template-return-changed", Break},
		{elfdiff.Change{Kind: elfdiff.CXXCtorRemoved}, "constructor-removed", Break},
		{elfdiff.Change{Kind: elfdiff.CXXDtorRemoved}, "destructor-removed", Break},
		{elfdiff.Change{Kind: elfdiff.TypeinfoRemoved}, "typeinfo-removed", Break},
		{elfdiff.Change{Kind: elfdiff.VTableSizeChanged, Old: "48", New: "56"}, "vtable-grew", Warn},
		{elfdiff.Change{Kind: elfdiff.VTableSizeChanged, Old: "56", New: "48"}, "vtable-shrank", Break},
		{elfdiff.Change{Kind: elfdiff.VirtualAppended, New: "A::g()"}, "virtual-method-added-at-end", Warn},
		{elfdiff.Change{Kind: elfdiff.VirtualAppended, New: "A::g()", Facts: elfdiff.FactBaseOfShifted}, "virtual-method-added-to-base", Break},
		{elfdiff.Change{Kind: elfdiff.VirtualAppended, New: "__cxa_pure_virtual"}, "virtual-method-added-pure", Break},
		{elfdiff.Change{Kind: elfdiff.VirtualInserted}, "virtual-method-inserted", Break},
		{elfdiff.Change{Kind: elfdiff.VirtualRemoved}, "virtual-method-removed", Break},
		{elfdiff.Change{Kind: elfdiff.VirtualMoved}, "virtual-method-moved", Break},
		{elfdiff.Change{Kind: elfdiff.VirtualReplaced}, "virtual-method-replaced", Break},
		{elfdiff.Change{Kind: elfdiff.VirtualBecamePure}, "virtual-method-became-pure", Break},
		{elfdiff.Change{Kind: elfdiff.VirtualBecameConcrete}, "virtual-method-became-concrete", Info},
		{elfdiff.Change{Kind: elfdiff.VirtualOverridden}, "virtual-method-overridden", Warn},
		{elfdiff.Change{Kind: elfdiff.VTableLayoutChanged}, "vtable-layout-changed", Break},
	}
	for _, tt := range tests {
		r := s.Match(tt.change)
		if r.ID != tt.want || r.Severity != tt.sev {
			t.Errorf("Match(%+v) = %s (%v), want %s (%v)", tt.change, r.ID, r.Severity, tt.want, tt.sev)
		}
	}
}
