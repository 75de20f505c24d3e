package rules

import (
	"testing"

	"github.com/compatgate/compatgate/elfdiff"
)

// TestTypeRules checks how facts and reach select among the rules of one
// kind of type change.
func TestTypeRules(t *testing.T) {
	s := Default()
	const (
		value   = elfdiff.ReachValue
		pointer = elfdiff.ReachPointer
	)
	tests := []struct {
		kind  elfdiff.Kind
		facts elfdiff.Facts
		reach elfdiff.Reach
		want  string
		sev   Severity
	}{
		{elfdiff.ParamTypeChanged, elfdiff.FactQualifiers, value, "param-qualifier-changed", Info},
		{elfdiff.ParamTypeChanged, elfdiff.FactSameRepr, value, "param-type-respelled", Info},
		{elfdiff.ParamTypeChanged, elfdiff.FactSignedness, value, "param-signedness-changed", Warn},
		{elfdiff.ParamTypeChanged, elfdiff.FactSize | elfdiff.FactClass, value, "param-type-changed", Break},
		{elfdiff.ParamTypeChanged, elfdiff.FactPointee | elfdiff.FactPointerLevel, pointer, "param-pointer-level-changed", Break},
		{elfdiff.ParamTypeChanged, elfdiff.FactPointee | elfdiff.FactSameRepr, pointer, "param-type-respelled", Info},
		{elfdiff.ParamTypeChanged, elfdiff.FactPointee | elfdiff.FactSize, pointer, "param-pointee-size-changed", Break},
		{elfdiff.ParamTypeChanged, elfdiff.FactPointee, pointer, "param-pointee-changed", Warn},
		{elfdiff.ParamTypeChanged, elfdiff.FactPointeeQual | elfdiff.FactLostConst, pointer, "param-pointee-qualifier-changed", Warn},
		{elfdiff.ReturnTypeChanged, elfdiff.FactFromVoid | elfdiff.FactClass, value, "return-became-nonvoid", Info},
		{elfdiff.ReturnTypeChanged, elfdiff.FactFromVoid | elfdiff.FactClass | elfdiff.FactMemory, value, "return-became-nonvoid-memory", Break},
		{elfdiff.ReturnTypeChanged, elfdiff.FactToVoid | elfdiff.FactClass, value, "return-became-void", Break},
		{elfdiff.VarTypeChanged, elfdiff.FactQualifiers | elfdiff.FactBecameConst, value, "var-became-const", Break},
		{elfdiff.VarTypeChanged, elfdiff.FactQualifiers | elfdiff.FactLostConst, value, "var-qualifier-changed", Info},
		{elfdiff.TypeSizeChanged, elfdiff.FactGrew | elfdiff.FactAllocatable, value, "type-size-changed", Break},
		{elfdiff.TypeSizeChanged, elfdiff.FactGrew | elfdiff.FactAllocatable, pointer, "type-size-grew", Break},
		{elfdiff.TypeSizeChanged, elfdiff.FactShrank | elfdiff.FactAllocatable, pointer, "type-size-shrank", Warn},
		{elfdiff.TypeBecameOpaque, 0, pointer, "type-became-opaque-pointer", Warn},
		{elfdiff.MemberAdded, elfdiff.FactInPadding, pointer, "member-added-in-padding", Warn},
		{elfdiff.MemberAdded, elfdiff.FactAppended, value, "member-added", Info},
		{elfdiff.EnumeratorValueChanged, elfdiff.FactSentinel, value, "enumerator-sentinel-changed", Warn},
		{elfdiff.EnumeratorValueChanged, 0, pointer, "enumerator-value-changed", Break},
		{elfdiff.EnumeratorAdded, elfdiff.FactAppended, value, "enumerator-appended", Info},
		{elfdiff.EnumeratorAdded, 0, value, "enumerator-inserted", Warn},
		{elfdiff.TypedefRetargeted, elfdiff.FactSize, value, "typedef-retargeted", Break},
		{elfdiff.TypedefRetargeted, elfdiff.FactKind, pointer, "typedef-retargeted-pointer", Warn},
		{elfdiff.ArrayLengthChanged, elfdiff.FactGrew, value, "array-length-changed", Break},
		{elfdiff.ArrayLengthChanged, elfdiff.FactGrew | elfdiff.FactPointee, value, "array-length-changed-pointer", Warn},
		{elfdiff.VariadicChanged, elfdiff.FactBecameVariadic, value, "became-variadic", Warn},
		{elfdiff.VariadicChanged, elfdiff.FactLostVariadic, value, "no-longer-variadic", Warn},
	}
	for _, tt := range tests {
		c := elfdiff.Change{Kind: tt.kind, Facts: tt.facts, Reach: tt.reach}
		r := s.Match(c)
		if r.ID != tt.want || r.Severity != tt.sev {
			t.Errorf("%s with facts %s, reach %s: got %s (%s), want %s (%s)",
				tt.kind, tt.facts, tt.reach, r.ID, r.Severity, tt.want, tt.sev)
		}
	}
}
