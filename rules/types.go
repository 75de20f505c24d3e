package rules

import "github.com/compatgate/compatgate/elfdiff"

// typeRules are the rules for changes found in DWARF: declarations of
// exported functions and variables, and the types they reach. They read
// the change's Facts and Reach, never its text.
func typeRules() []Rule {
	rs := append(privateRules(), reservedRules()...)
	// Changes inside a class internal to the library come first: clients
	// cannot name, create or derive from it.
	for _, k := range []elfdiff.Kind{elfdiff.MemberTypeChanged, elfdiff.MemberMoved, elfdiff.MemberRemoved,
		elfdiff.TypeAlignmentChanged, elfdiff.ArrayLengthChanged, elfdiff.TypeinfoBaseAdded, elfdiff.TypeinfoBaseRemoved,
		elfdiff.TypeinfoBaseReplaced, elfdiff.TypeinfoBaseMoved, elfdiff.TypeinfoBaseVirtual} {
		rs = append(rs, Rule{ID: "internal-" + string(k), Kind: k, Severity: Warn, When: has(elfdiff.FactInternal),
			Rationale: "the class is internal to the library (defined in its sources, or a template instantiated on such a class): clients cannot name, create or derive from it and reach it only through pointers the library owns; review"})
	}
	rs = append(rs,
		Rule{ID: "param-added", Kind: elfdiff.ParamAdded, Severity: Break,
			Rationale: "the function reads an argument old callers never pass"},
		Rule{ID: "param-removed", Kind: elfdiff.ParamRemoved, Severity: Break,
			Rationale: "old callers still pass it and rely on it being used; later arguments are read from the wrong place"},
		Rule{ID: "param-passing-changed", Kind: elfdiff.ParamPassingChanged, Severity: Break,
			Rationale: "old callers pass the value in the old registers or stack slots"},
		Rule{ID: "return-passing-changed", Kind: elfdiff.ReturnPassingChanged, Severity: Break,
			Rationale: "old callers expect the result in the old registers, or pass (or omit) the hidden result pointer"},
		Rule{ID: "became-variadic", Kind: elfdiff.VariadicChanged, Severity: Warn, When: has(elfdiff.FactBecameVariadic),
			Rationale: "fixed arguments are passed alike, but old callers do not set %al for the variadic prologue; review"},
		Rule{ID: "no-longer-variadic", Kind: elfdiff.VariadicChanged, Severity: Warn,
			Rationale: "on x86-64 fixed arguments are passed alike either way (old callers only also set %al, which the function now ignores); extra arguments old callers pass are ignored; review"},
	)
	rs = append(rs, locationRules("param", elfdiff.ParamTypeChanged, "callers")...)
	rs = append(rs,
		Rule{ID: "return-became-nonvoid-memory", Kind: elfdiff.ReturnTypeChanged, Severity: Break,
			When:      has(elfdiff.FactFromVoid | elfdiff.FactMemory),
			Rationale: "the function writes its result through a hidden pointer old callers do not pass"},
		Rule{ID: "return-became-nonvoid", Kind: elfdiff.ReturnTypeChanged, Severity: Info, When: has(elfdiff.FactFromVoid),
			Rationale: "old callers ignore the value returned in registers"},
		Rule{ID: "return-became-void-memory", Kind: elfdiff.ReturnTypeChanged, Severity: Break,
			When:      has(elfdiff.FactToVoid | elfdiff.FactMemory),
			Rationale: "old callers pass a hidden result pointer, which the function now takes for its first argument"},
		Rule{ID: "return-became-void", Kind: elfdiff.ReturnTypeChanged, Severity: Break, When: has(elfdiff.FactToVoid),
			Rationale: "old callers read a result the function no longer sets"},
	)
	rs = append(rs, locationRules("return", elfdiff.ReturnTypeChanged, "callers")...)
	rs = append(rs,
		Rule{ID: "var-became-const", Kind: elfdiff.VarTypeChanged, Severity: Break,
			When:      has(elfdiff.FactQualifiers | elfdiff.FactBecameConst),
			Rationale: "the variable now lives in read-only memory; clients that write it crash"},
	)
	rs = append(rs, locationRules("var", elfdiff.VarTypeChanged, "clients")...)
	rs = append(rs, Rule{ID: "const-value-changed", Kind: elfdiff.ConstValueChanged, Severity: Warn,
		Rationale: "clients that saw the definition may have compiled the old value in; those that read it at run time see the new one"})

	// Types.
	rs = append(rs,
		Rule{ID: "type-size-changed", Kind: elfdiff.TypeSizeChanged, Severity: Break, When: byValue,
			Rationale: "clients pass, return, copy and embed it with the old size and layout"},
		Rule{ID: "versioned-struct-grew", Kind: elfdiff.TypeSizeChanged, Severity: Warn, When: has(elfdiff.FactVersioned | elfdiff.FactGrew),
			Rationale: "the struct grew at its end and starts with a version or size member (sqlite3_module's iVersion): a library that checks it reads the new members only from clients that set it; review that it does, or suppress"},
		Rule{ID: "type-size-grew", Kind: elfdiff.TypeSizeChanged, Severity: Break,
			When:      has(elfdiff.FactAllocatable | elfdiff.FactGrew),
			Rationale: "clients that allocate it (on the stack, statically, in arrays, embedded) reserve the old, smaller size and the library writes past it"},
		Rule{ID: "class-size-changed", Kind: elfdiff.TypeSizeChanged, Severity: Break,
			When:      has(elfdiff.FactAllocatable | elfdiff.FactCXXClass),
			Rationale: "clients create objects of the class (on the stack, with new, as a base or member of their own classes) with the old size, and their derived classes place their members after the old end"},
		Rule{ID: "type-size-grew-not-allocatable", Kind: elfdiff.TypeSizeChanged, Severity: Warn, When: has(elfdiff.FactGrew),
			Rationale: "reached only through pointers, and clients cannot create it (internal class, or no public constructor): the library allocates every object, with the new size"},
		Rule{ID: "type-size-shrank", Kind: elfdiff.TypeSizeChanged, Severity: Warn,
			Rationale: "reached only through pointers; clients that index arrays of it or use members past the new end break"},
		Rule{ID: "type-alignment-changed", Kind: elfdiff.TypeAlignmentChanged, Severity: Break, When: byValue,
			Rationale: "clients place it, and what contains it, at the old alignment"},
		Rule{ID: "type-alignment-changed-pointer", Kind: elfdiff.TypeAlignmentChanged, Severity: Warn,
			Rationale: "reached only through pointers; objects clients allocate may be misaligned for the library"},
		Rule{ID: "type-became-opaque", Kind: elfdiff.TypeBecameOpaque, Severity: Break, When: byValue,
			Rationale: "clients use it by value, which needs its definition"},
		Rule{ID: "type-became-opaque-pointer", Kind: elfdiff.TypeBecameOpaque, Severity: Warn,
			Rationale: "clients that only hold pointers are unaffected; those that allocated it or used its members depend on a layout no longer published"},
		Rule{ID: "member-added-in-padding", Kind: elfdiff.MemberAdded, Severity: Warn, When: has(elfdiff.FactInPadding),
			Rationale: "layout and size are unchanged, but old clients leave the new member uninitialised"},
		Rule{ID: "member-added", Kind: elfdiff.MemberAdded, Severity: Info,
			Rationale: "what the addition does to size and offsets is reported on its own"},
		Rule{ID: "member-removed", Kind: elfdiff.MemberRemoved, Severity: Break,
			Rationale: "clients still read and write it where it used to be"},
		Rule{ID: "member-renamed", Kind: elfdiff.MemberRenamed, Severity: Info,
			Rationale: "same offset and type: compiled clients are unaffected (source code using the old name is not)"},
		Rule{ID: "member-moved", Kind: elfdiff.MemberMoved, Severity: Break,
			Rationale: "clients access it at its old offset"},
		Rule{ID: "bitfield-changed", Kind: elfdiff.BitfieldChanged, Severity: Break,
			Rationale: "clients read and write the old bits"},
		Rule{ID: "array-length-changed", Kind: elfdiff.ArrayLengthChanged, Severity: Break,
			When:      func(c elfdiff.Change) bool { return c.Reach == elfdiff.ReachValue && !c.Facts.Has(elfdiff.FactPointee) },
			Rationale: "clients allocate, copy and index it with the old length"},
		Rule{ID: "array-length-changed-pointer", Kind: elfdiff.ArrayLengthChanged, Severity: Warn,
			Rationale: "reached through pointers: clients that index it or allocate it use the old length"},
		Rule{ID: "function-pointer-param-appended", Kind: elfdiff.FuncPtrChanged, Severity: Warn, When: has(elfdiff.FactAppended),
			Rationale: "the callback type gained trailing parameters: old callbacks ignore the extra arguments (x86-64 callers clean up), and old callers of it leave them unset; review"},
		Rule{ID: "function-pointer-changed", Kind: elfdiff.FuncPtrChanged, Severity: Break,
			Rationale: "callbacks are called, or library functions called through it, with the old signature"},
		Rule{ID: "enumerator-sentinel-changed", Kind: elfdiff.EnumeratorValueChanged, Severity: Warn, When: has(elfdiff.FactSentinel),
			Rationale: "a count or maximum grew: clients that size arrays or validate input with the old value need review"},
		Rule{ID: "enumerator-value-changed", Kind: elfdiff.EnumeratorValueChanged, Severity: Break,
			Rationale: "clients compiled the old value into their code"},
		Rule{ID: "enumerator-removed", Kind: elfdiff.EnumeratorRemoved, Severity: Break,
			Rationale: "clients still pass or expect a value the library no longer defines"},
		Rule{ID: "enumerator-appended", Kind: elfdiff.EnumeratorAdded, Severity: Info, When: has(elfdiff.FactAppended),
			Rationale: "a new value after all others; old clients never pass it, but may receive it"},
		Rule{ID: "enumerator-inserted", Kind: elfdiff.EnumeratorAdded, Severity: Warn,
			Rationale: "a new value among the old ones (old values are unchanged); old clients may receive it"},
		Rule{ID: "enumerator-renamed", Kind: elfdiff.EnumeratorRenamed, Severity: Info,
			Rationale: "same value: compiled clients are unaffected"},
	)
	rs = append(rs, locationRules("member", elfdiff.MemberTypeChanged, "clients")...)
	rs = append(rs, locationRules("typedef", elfdiff.TypedefRetargeted, "clients")...)
	return rs
}

// privateKinds are the kinds of change found inside a type, which a type
// that is not public API keeps from its clients.
var privateKinds = []elfdiff.Kind{
	elfdiff.TypeSizeChanged, elfdiff.TypeAlignmentChanged, elfdiff.TypeBecameOpaque,
	elfdiff.MemberAdded, elfdiff.MemberRemoved, elfdiff.MemberRenamed, elfdiff.MemberMoved,
	elfdiff.MemberTypeChanged, elfdiff.BitfieldChanged, elfdiff.ArrayLengthChanged, elfdiff.FuncPtrChanged,
	elfdiff.TypedefRetargeted, elfdiff.EnumeratorAdded, elfdiff.EnumeratorRemoved,
	elfdiff.EnumeratorValueChanged, elfdiff.EnumeratorRenamed,
	elfdiff.ClassVPtrAdded, elfdiff.ClassVPtrRemoved, elfdiff.AccessChanged,
	elfdiff.TypeinfoBaseAdded, elfdiff.TypeinfoBaseRemoved, elfdiff.TypeinfoBaseReplaced,
	elfdiff.TypeinfoBaseMoved, elfdiff.TypeinfoBaseVirtual, elfdiff.TypeinfoBaseAccess,
	elfdiff.VirtualAppended, elfdiff.VirtualInserted, elfdiff.VirtualRemoved, elfdiff.VirtualMoved,
	elfdiff.VirtualReplaced, elfdiff.VirtualBecamePure, elfdiff.VirtualBecameConcrete,
	elfdiff.MethodBecameVirtual, elfdiff.MethodBecameNonVirtual,
}

// privateRules classify the changes inside types that are not public
// API. They come before every other rule of their kinds.
func privateRules() []Rule {
	rs := make([]Rule, 0, len(privateKinds))
	for _, k := range privateKinds {
		rs = append(rs, Rule{ID: "private-" + string(k), Kind: k, Severity: Info, When: private,
			Rationale: "the type is not public API (defined in a source file or a private header, at most declared in the public headers): clients cannot allocate, embed or access it, only hold pointers the library gives them"})
	}
	return rs
}

// reservedRules classify changes that put reserved or padding space to
// use, or wrap a member into a union or struct at the same offset: no byte
// a client reads moved.
func reservedRules() []Rule {
	var rs []Rule
	for _, k := range []elfdiff.Kind{elfdiff.MemberRemoved, elfdiff.MemberMoved, elfdiff.MemberAdded,
		elfdiff.MemberTypeChanged, elfdiff.ArrayLengthChanged} {
		rs = append(rs,
			Rule{ID: "reserved-" + string(k), Kind: k, Severity: Warn, When: has(elfdiff.FactReserved | elfdiff.FactAllocatable),
				Rationale: "reserved or padding space put to use within its old bytes: nothing clients read moved, but clients that fill the struct may have left something other than zero in the reserved bytes the library now reads; review"},
			Rule{ID: "reserved-internal-" + string(k), Kind: k, Severity: Info, When: has(elfdiff.FactReserved),
				Rationale: "reserved or padding space put to use within its old bytes, in a type clients cannot create: nothing clients read or write moved"})
	}
	return append(rs, Rule{ID: "member-wrapped", Kind: elfdiff.MemberRemoved, Severity: Info, When: has(elfdiff.FactSameLayout),
		Rationale: "the member's bytes are where they were, with the same layout, now inside a union or struct member (an anonymous one keeps its name): compiled clients are unaffected"})
}

// private holds for a change inside a type that is not public API: one
// defined outside the public headers or, when no headers were known, one
// defined in a source file and reached by no exported symbol by value (a
// symbol that passes it by value would be uncallable without its
// definition, so its clients must have one).
func private(c elfdiff.Change) bool {
	return c.Facts.Has(elfdiff.FactPrivate) && (!c.Facts.Has(elfdiff.FactNoHeaders) || c.Reach != elfdiff.ReachValue)
}

// locationRules returns the rules for a type that changed at one kind of
// location (a parameter, a return value, a variable, a member, a
// typedef's target), in matching order.
func locationRules(prefix string, k elfdiff.Kind, who string) []Rule {
	last := Rule{ID: prefix + "-type-changed", Kind: k, Severity: Break,
		Rationale: who + " use the old type: another size, register or representation"}
	if k == elfdiff.TypedefRetargeted {
		last.ID = "typedef-retargeted"
		last.When = byValue
	}
	rs := []Rule{
		{ID: prefix + "-qualifier-changed", Kind: k, Severity: Info, When: has(elfdiff.FactQualifiers),
			Rationale: "top-level const, volatile or restrict on a value does not change how it is passed or stored"},
		{ID: prefix + "-pointer-level-changed", Kind: k, Severity: Break, When: has(elfdiff.FactPointerLevel),
			Rationale: who + " dereference a different number of times"},
		{ID: prefix + "-pointee-qualifier-changed", Kind: k, Severity: Warn, When: has(elfdiff.FactPointeeQual),
			Rationale: "same pointer, other promises about writing through it; review"},
		{ID: prefix + "-type-respelled", Kind: k, Severity: Info, When: has(elfdiff.FactSameRepr),
			Rationale: "same size, register class and signedness: the ABI is unchanged"},
		{ID: prefix + "-type-same-layout", Kind: k, Severity: Info, When: has(elfdiff.FactSameLayout),
			Rationale: "another type with the same size, alignment, scalars at the same offsets and register classification: the bytes " + who + " read and write are where they were"},
		{ID: prefix + "-pointee-size-changed", Kind: k, Severity: Break, When: has(elfdiff.FactPointee | elfdiff.FactSize),
			Rationale: "the memory behind the pointer has another size: reads and writes overrun what " + who + " provide"},
		{ID: prefix + "-pointee-changed", Kind: k, Severity: Warn, When: has(elfdiff.FactPointee),
			Rationale: "same pointer, another type behind it; review how the memory is used"},
		{ID: prefix + "-signedness-changed", Kind: k, Severity: Warn, When: has(elfdiff.FactSignedness),
			Rationale: "same size and register: values beyond the common range change meaning"},
		last,
	}
	if k == elfdiff.TypedefRetargeted {
		rs = append(rs, Rule{ID: "typedef-retargeted-pointer", Kind: k, Severity: Warn,
			Rationale: "reached only through pointers; review what clients do with the pointed-to type"})
	}
	return rs
}

// has holds when the change has every fact of f.
func has(f elfdiff.Facts) func(elfdiff.Change) bool {
	return func(c elfdiff.Change) bool { return c.Facts.Has(f) }
}

// byValue holds when some affected symbol reaches the type by value.
func byValue(c elfdiff.Change) bool { return c.Reach == elfdiff.ReachValue }
