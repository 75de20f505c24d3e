package rules

import (
	"strings"

	"github.com/compatgate/compatgate/elfdiff"
)

// cxxRules are the rules for C++ changes found from the symbol tables and
// the virtual tables, without debug information. Their rationales follow
// the Itanium C++ ABI: a method's qualifiers and parameter types are part
// of its mangled name, and virtual calls go through fixed vtable slots.
func cxxRules() []Rule {
	return []Rule{
		// Mangled names that changed: the old symbol is gone, so every
		// one of these fails old clients at load time; the rule says why.
		{ID: "method-became-const", Kind: elfdiff.CXXQualifiersChanged, Severity: Break, When: gained("const"),
			Rationale: "const is part of the mangled name (_ZNK…): clients still reference the non-const symbol, which is gone"},
		{ID: "method-lost-const", Kind: elfdiff.CXXQualifiersChanged, Severity: Break, When: lost("const"),
			Rationale: "const is part of the mangled name (_ZNK…): clients still reference the const symbol, which is gone"},
		{ID: "method-became-volatile", Kind: elfdiff.CXXQualifiersChanged, Severity: Break, When: gained("volatile"),
			Rationale: "volatile is part of the mangled name (_ZNV…): clients still reference the old symbol, which is gone"},
		{ID: "method-lost-volatile", Kind: elfdiff.CXXQualifiersChanged, Severity: Break, When: lost("volatile"),
			Rationale: "volatile is part of the mangled name (_ZNV…): clients still reference the old symbol, which is gone"},
		{ID: "method-ref-qualifier-changed", Kind: elfdiff.CXXQualifiersChanged, Severity: Break,
			Rationale: "a ref-qualifier (& or &&) is part of the mangled name (_ZNR…/_ZNO…): clients still reference the old symbol, which is gone"},
		{ID: "function-params-changed", Kind: elfdiff.CXXParamsChanged, Severity: Break,
			Rationale: "parameter types are part of a C++ function's mangled name: clients still reference the old signature, which is gone"},
		{ID: "template-return-changed", Kind: elfdiff.CXXReturnChanged, Severity: Break,
			Rationale: "a function template instance's mangled name includes its return type: clients still reference the old instance, which is gone"},
		{ID: "thunk-offset-changed", Kind: elfdiff.CXXThunkChanged, Severity: Break,
			Rationale: "a base subobject moved: the vtables of clients' derived classes reference the old thunk, which no longer exists"},
		{ID: "constructor-removed", Kind: elfdiff.CXXCtorRemoved, Severity: Break,
			Rationale: "clients that create the object (C1: complete object, C2: as a base of their own class) fail to load or abort at first use (undefined symbol)"},
		{ID: "destructor-removed", Kind: elfdiff.CXXDtorRemoved, Severity: Break,
			Rationale: "clients that destroy the object (D1 complete, D2 base subobject, D0 through delete) fail to load or abort at first use (undefined symbol)"},

		// RTTI.
		{ID: "typeinfo-removed", Kind: elfdiff.TypeinfoRemoved, Severity: Break,
			Rationale: "catch clauses, dynamic_cast, typeid and clients' own derived classes' typeinfo reference the class's type_info object (_ZTI); clients fail to load"},
		{ID: "typeinfo-name-removed", Kind: elfdiff.TypeinfoNameRemoved, Severity: Break,
			Rationale: "type_info objects clients emit for the class reference its name string (_ZTS), and type_info equality compares it; clients that reference it fail to load"},
		{ID: "typeinfo-size-changed", Kind: elfdiff.TypeinfoSizeChanged, Severity: Break,
			Rationale: "the class's type_info changed kind (__class_type_info, __si_… or __vmi_…): its base classes changed, so object layout, casts and exception matching differ from what clients were built for"},

		// Virtual tables.
		{ID: "vtable-removed", Kind: elfdiff.VTableRemoved, Severity: Break,
			Rationale: "constructors inlined into clients and clients' derived classes reference the class's vtable (_ZTV); clients fail to load"},
		{ID: "vtable-shrank", Kind: elfdiff.VTableSizeChanged, Severity: Break, When: shrank,
			Rationale: "slots old clients call through are gone or moved: virtual calls reach the wrong function or read past the table"},
		{ID: "vtable-grew", Kind: elfdiff.VTableSizeChanged, Severity: Warn,
			Rationale: "non-PIE executables that copy-relocated the vtable keep the old, shorter copy, and clients' derived classes have no entry for the new slots; safe only if no client derives from the class or copies its vtable"},
		{ID: "vtable-layout-changed", Kind: elfdiff.VTableLayoutChanged, Severity: Break,
			Rationale: "base subobjects or virtual-base offsets moved: old clients adjust this pointers and find virtual bases at the old offsets"},
		{ID: "virtual-method-added-pure", Kind: elfdiff.VirtualAppended, Severity: Break, When: newPure,
			Rationale: "clients' derived classes do not implement the new pure virtual function: the library calls __cxa_pure_virtual or past their vtables"},
		{ID: "virtual-method-added-to-base", Kind: elfdiff.VirtualAppended, Severity: Break, When: has(elfdiff.FactBaseOfShifted),
			Rationale: "the class is a base of other classes of the library, whose own virtual functions follow its slots: the new slot pushed theirs along, so the hierarchy's vtables no longer match what clients compiled against"},
		{ID: "virtual-method-added-at-end", Kind: elfdiff.VirtualAppended, Severity: Warn,
			Rationale: "existing slots keep their places, so calls from old clients still work; but clients' derived classes have no entry for the new slot, so this is safe only if no client derives from the class"},
		{ID: "virtual-method-inserted", Kind: elfdiff.VirtualInserted, Severity: Break,
			Rationale: "later slots shift: old clients' virtual calls through them reach the wrong function"},
		{ID: "virtual-method-removed", Kind: elfdiff.VirtualRemoved, Severity: Break,
			Rationale: "old clients' virtual calls through this slot, or through later slots that shifted, reach the wrong function or past the table"},
		{ID: "virtual-method-moved", Kind: elfdiff.VirtualMoved, Severity: Break,
			Rationale: "old clients call the function through its old slot, which now holds another function"},
		{ID: "virtual-method-replaced", Kind: elfdiff.VirtualReplaced, Severity: Break,
			Rationale: "old clients calling through the slot reach another function, with the old function's arguments"},
		{ID: "virtual-method-became-pure", Kind: elfdiff.VirtualBecamePure, Severity: Break,
			Rationale: "virtual calls from old clients on objects of the class now abort in __cxa_pure_virtual, and clients' derived classes may not implement it"},
		{ID: "virtual-method-became-concrete", Kind: elfdiff.VirtualBecameConcrete, Severity: Info,
			Rationale: "the slot now has an implementation; clients' derived classes still override it"},
		{ID: "method-became-virtual", Kind: elfdiff.MethodBecameVirtual, Severity: Break,
			Rationale: "the vtable gains a slot (later slots and derived classes' slots shift), and same-named functions in clients' derived classes now override it"},
		{ID: "method-became-non-virtual", Kind: elfdiff.MethodBecameNonVirtual, Severity: Break,
			Rationale: "its vtable slot is gone: old clients' virtual calls through it, or through later slots that shifted, reach the wrong function, and their overrides are no longer called"},
		{ID: "class-gained-vtable", Kind: elfdiff.VTableAdded, Severity: Warn,
			Rationale: "if the class was not polymorphic before, a vptr now precedes its members and every member moved (break); if only its key function moved out of line, nothing changed — the symbol tables cannot tell which"},
		// Base classes, from the typeinfo objects.
		{ID: "base-class-added-same-layout", Kind: elfdiff.TypeinfoBaseAdded, Severity: Info, When: has(elfdiff.FactSameRepr),
			Rationale: "the new base holds members the class had, at the same offsets, and the size is unchanged: the layout clients compiled against is the same"},
		{ID: "base-class-added", Kind: elfdiff.TypeinfoBaseAdded, Severity: Break,
			Rationale: "a new base subobject changes the class's layout, its vtable group and the this-adjustments clients compiled in"},
		{ID: "base-class-removed", Kind: elfdiff.TypeinfoBaseRemoved, Severity: Break,
			Rationale: "clients convert to the base, call its members and catch it by the old hierarchy; the subobject is gone"},
		{ID: "base-class-replaced-empty", Kind: elfdiff.TypeinfoBaseReplaced, Severity: Info, When: has(elfdiff.FactSameRepr),
			Rationale: "an empty base replaced by another empty base at the same offset of a class: the layout is unchanged; only conversions to the old base, resolved at compile time, differ"},
		{ID: "base-class-replaced", Kind: elfdiff.TypeinfoBaseReplaced, Severity: Break,
			Rationale: "the subobject is another class: clients' upcasts, calls to the old base's members, dynamic_cast and catch clauses expect the old one"},
		{ID: "base-class-moved", Kind: elfdiff.TypeinfoBaseMoved, Severity: Break,
			Rationale: "clients compiled the old base offset into upcasts and this-adjustments (or read the virtual-base offset from the old vtable slot)"},
		{ID: "base-class-virtuality-changed", Kind: elfdiff.TypeinfoBaseVirtual, Severity: Break,
			Rationale: "a virtual base is reached through the vtable and a non-virtual one at a fixed offset: old clients look for it the old way"},
		{ID: "base-class-access-changed", Kind: elfdiff.TypeinfoBaseAccess, Severity: Info,
			Rationale: "access does not change the layout; only dynamic_cast and exception matching to the base follow the new access"},
		// From DWARF.
		{ID: "class-vptr-added", Kind: elfdiff.ClassVPtrAdded, Severity: Break,
			Rationale: "the class became polymorphic: a vtable pointer now precedes its members, so its size and every member's offset changed"},
		{ID: "class-vptr-removed", Kind: elfdiff.ClassVPtrRemoved, Severity: Break,
			Rationale: "the class is no longer polymorphic: the vtable pointer is gone, so its size and every member's offset changed, and old clients call through a vptr that is not there"},
		{ID: "method-static-changed", Kind: elfdiff.MethodStaticChanged, Severity: Break,
			Rationale: "static and non-static member functions mangle alike, but only one takes the object as its first argument: every argument is read from the wrong register"},
		{ID: "access-changed", Kind: elfdiff.AccessChanged, Severity: Info,
			Rationale: "access (public, protected, private) is checked by the compiler only: compiled clients keep working; source code may no longer compile"},
		{ID: "inline-function-removed", Kind: elfdiff.InlineFuncRemoved, Severity: Warn,
			Rationale: "the function is inline (weak, vague linkage): clients that saw its definition compiled their own copy and keep working, but clients that called the library's out-of-line copy fail to load"},
		{ID: "template-instance-removed", Kind: elfdiff.TemplateInstRemoved, Severity: Info,
			Rationale: "an implicit instance of a function template defined in a public header (weak, vague linkage): every client that calls it instantiated its own copy, since even an extern template class does not cover member templates"},
		{ID: "virtual-method-overridden", Kind: elfdiff.VirtualOverridden, Severity: Warn,
			Rationale: "virtual calls now reach the other class's implementation, but calls old clients bound directly (qualified, devirtualized or inlined) still run the old one; behaviour may differ"},
	}
}

func qualSet(s string) map[string]bool {
	m := make(map[string]bool)
	for _, f := range strings.Fields(s) {
		m[f] = true
	}
	return m
}

// gained holds when qualifier q is in New and not in Old.
func gained(q string) func(elfdiff.Change) bool {
	return func(c elfdiff.Change) bool { return !qualSet(c.Old)[q] && qualSet(c.New)[q] }
}

// lost holds when qualifier q is in Old and not in New.
func lost(q string) func(elfdiff.Change) bool {
	return func(c elfdiff.Change) bool { return qualSet(c.Old)[q] && !qualSet(c.New)[q] }
}

// shrank holds when a size change's New is smaller than its Old.
func shrank(c elfdiff.Change) bool { return atoi(c.New) < atoi(c.Old) }

func newPure(c elfdiff.Change) bool {
	return c.New == "__cxa_pure_virtual" || c.Facts.Has(elfdiff.FactPure)
}

func atoi(s string) int {
	n := 0
	for _, r := range s {
		if r < '0' || r > '9' {
			return n
		}
		n = n*10 + int(r-'0')
	}
	return n
}
