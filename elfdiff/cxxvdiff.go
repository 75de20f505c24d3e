package elfdiff

import (
	"github.com/compatgate/compatgate/elfdiff/cxx"

	"fmt"
	"slices"
	"sort"
	"strings"
)

// maxLCSCells bounds the work of aligning two vtables slot by slot; larger
// tables are compared position by position.
const maxLCSCells = 1 << 20

// A slotID is a vtable slot as the comparison sees it: the virtual
// function's identity, independent of the class that implements it, and
// its implementation.
type slotID struct {
	key string // "f(int) const", "~(D1)", "<pure>#0", "?#1"
	sym string // the target symbol, "" when unnamed
	// text describes a slot whose target is not a C++ function: "a null
	// pointer", "unnamed function at 0x…", the symbol; "" for a C++
	// function, which impl demangles when a message names it.
	text string
	pure bool // __cxa_pure_virtual
	null bool // a null pointer: GCC leaves the destructor slots of abstract classes empty
}

// impl names the implementing function, demangled: "Base::f(int) const".
func (s slotID) impl() string {
	if s.text != "" {
		return s.text
	}
	n := cxxNameOf(s.sym)
	impl := n.Signature()
	switch n.Variant {
	case "D0":
		impl += " [deleting]"
	case "D1":
		impl += " [complete]"
	}
	return impl
}

// slotIDs returns the identities of a vtable's slots. Nothing demangled is
// kept between vtables: a memo of the names the vtables of a big library
// call held megabytes through the whole comparison, for a tenth of its
// CPU. The demangled implementation is not kept at all: only the few
// slots a change names need it.
func slotIDs(slots []cxx.Slot) []slotID {
	out := make([]slotID, len(slots))
	pure, deleted, unknown := 0, 0, 0
	for i, s := range slots {
		switch {
		case s.Target == "" && s.Addr == 0:
			out[i] = slotID{key: fmt.Sprintf("<null>#%d", i), text: "a null pointer", null: true}
		case s.Target == "":
			out[i] = slotID{key: fmt.Sprintf("?#%d", unknown), text: fmt.Sprintf("unnamed function at %#x", s.Addr)}
			unknown++
		case s.Target == "__cxa_pure_virtual":
			out[i] = slotID{key: fmt.Sprintf("<pure>#%d", pure), text: "__cxa_pure_virtual", sym: s.Target, pure: true}
			pure++
		case s.Target == "__cxa_deleted_virtual":
			out[i] = slotID{key: fmt.Sprintf("<deleted>#%d", deleted), text: "__cxa_deleted_virtual"}
			deleted++
		default:
			out[i] = namedSlot(s.Target)
		}
	}
	return out
}

// namedSlot returns the identity of a slot that calls the function target.
func namedSlot(target string) slotID {
	n := cxxNameOf(target)
	if !n.Mangled() {
		return slotID{key: target, text: target}
	}
	return slotID{key: n.MethodKey(), sym: target}
}

func vtablesOf(c *Corpus) map[string]*cxx.VTable {
	if c.CXX == nil {
		return nil
	}
	return c.CXX.VTables
}

// A vdiffer compares the vtables of two versions.
type vdiffer struct {
	old, new *Corpus
	// virtual holds, per version, the symbols some vtable slot calls.
	oldVirtual, newVirtual map[string]bool
}

func virtualTargets(c *Corpus) map[string]bool {
	m := make(map[string]bool)
	for _, vt := range vtablesOf(c) {
		for _, t := range vt.Tables {
			for _, s := range t.Slots {
				if s.Target != "" {
					m[s.Target] = true
				}
			}
		}
	}
	return m
}

// becameVirtual reports whether sym, called by a new slot, is a function
// the old version exported without any vtable calling it.
func (d *vdiffer) becameVirtual(sym string) bool {
	return sym != "" && d.old.exports(sym) && !d.oldVirtual[sym]
}

// becameNonVirtual reports whether sym, called by an old slot, is still
// exported by the new version but no vtable calls it.
func (d *vdiffer) becameNonVirtual(sym string) bool {
	return sym != "" && d.new.exports(sym) && !d.newVirtual[sym]
}

// diffVTables compares the vtables both versions export under one name
// (cxx.Tables). Each change names its class in Type; cxxPass fills in the
// affected members.
func diffVTables(old, new *Corpus) []Change {
	d := &vdiffer{old: old, new: new}
	var keys []string
	for k := range vtablesOf(old) {
		if _, ok := vtablesOf(new)[k]; ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var out []Change
	for _, k := range keys {
		o, n := vtablesOf(old)[k], vtablesOf(new)[k]
		if o.Err != "" || n.Err != "" {
			continue
		}
		if d.oldVirtual == nil && !sameTables(o, n) {
			d.oldVirtual, d.newVirtual = virtualTargets(old), virtualTargets(new)
		}
		cs := d.diffVTable(o, n)
		if len(cs) == 0 {
			continue
		}
		for i := range cs {
			cs[i].Type = o.Class
		}
		out = append(out, cs...)
	}
	return out
}

// classMembers maps each class of need to the exported symbols of c that
// belong to it: its member functions, constructors, destructors, static
// data members, vtable, VTT and typeinfo. Only the names a memberFilter
// passes are demangled, and only the members of the classes asked for are
// kept.
func classMembers(c *Corpus, need map[string]bool) map[string][]string {
	filter := newMemberFilter(need)
	m := make(map[string][]string)
	for _, s := range c.Symbols() {
		if !strings.HasPrefix(s.Name, "_Z") || !filter.pass(s.Name) {
			continue
		}
		if class := memberOf(s.Name); class != "" && need[class] {
			m[class] = append(m[class], s.String())
		}
	}
	return m
}

// memberOf returns the class the symbol name is a member of: the class of
// a method, a static data member or a thunk, the class of a vtable, VTT or
// typeinfo; "" for other names.
func memberOf(name string) string {
	n := cxx.ParseName(name)
	switch n.Special {
	case cxx.Plain, cxx.Thunk, cxx.VirtualThunk, cxx.CovariantThunk:
		return n.Scope
	case cxx.VTableSymbol, cxx.VTTSymbol, cxx.TypeinfoSymbol, cxx.TypeinfoNameSymbol:
		return n.Entity
	}
	return ""
}

// A memberFilter tells, from a mangled name alone, whether the symbol may
// be a member of one of a set of classes, so that only those names are
// demangled. Each class is recognised by what the mangled name of any of
// its members must contain:
//
//   - a class whose last component is an identifier, "C" of
//     "ns::A<int>::C<long>": that identifier as a <source-name> ("1C"),
//     since a substitution only repeats what the name spelled before;
//   - std, std::allocator, std::basic_string, std::string and the
//     iostreams, which the standard abbreviations St, Sa, Sb, Ss, Si, So
//     and Sd name without spelling: one of those;
//   - a lambda or an unnamed class: its <closure-type-name> or
//     <unnamed-type-name>, Ul or Ut;
//   - a type that is not a class (a pointer, a reference, an array, a
//     function): nothing, since its only members are its typeinfo, and
//     the typeinfo, vtable and thunk names (_ZT…) always pass.
//
// A class none of those describe passes every name.
type memberFilter struct {
	idents           map[string]bool
	abbrevs, unnamed bool
	all              bool
}

// abbreviated reports whether id is one the demangler prints for a
// standard abbreviation: St is std; Sa, Sb, Ss, Si, So and Sd print as
// std::allocator, std::basic_string, std::string, std::istream,
// std::ostream and std::iostream, and in full (std::basic_istream<char,
// std::char_traits<char> >) where they name a constructor's class.
func abbreviated(id string) bool {
	switch id {
	case "std", "allocator", "basic_string", "string", "istream", "ostream", "iostream",
		"basic_istream", "basic_ostream", "basic_iostream":
		return true
	}
	return false
}

// newMemberFilter returns the filter for the members of classes.
func newMemberFilter(classes map[string]bool) memberFilter {
	f := memberFilter{idents: make(map[string]bool, len(classes))}
	for class := range classes {
		if class == "" {
			continue
		}
		id, last := lastIdentifier(class), class[len(class)-1:]
		switch {
		case abbreviated(id):
			f.abbrevs = true
		case id != "":
			f.idents[id] = true
		case strings.HasSuffix(class, "}"):
			f.unnamed = true // {lambda(…)#1}, {unnamed type#1}
		case last == ")" || last == "*" || last == "&" || last == "]":
			// not a class
		default:
			f.all = true
		}
	}
	return f
}

// pass reports whether the symbol name may be a member of the classes.
func (f memberFilter) pass(name string) bool {
	switch {
	case f.all || strings.HasPrefix(name, "_ZT") || spellsIdentifier(name, f.idents):
		return true
	case f.unnamed && (strings.Contains(name, "Ul") || strings.Contains(name, "Ut")):
		return true
	case f.abbrevs:
		for _, a := range [...]string{"St", "Sa", "Sb", "Ss", "Si", "So", "Sd"} {
			if strings.Contains(name, a) {
				return true
			}
		}
	}
	return false
}

// lastIdentifier returns the identifier of the last component of a
// demangled name, without template arguments or ABI tags; "" when that
// component is not a plain identifier.
func lastIdentifier(name string) string {
	depth, start := 0, 0
	for i := 0; i < len(name); i++ {
		switch name[i] {
		case '<', '(', '[', '{':
			depth++
		case '>', ')', ']', '}':
			depth--
		case ':':
			if depth == 0 && i+1 < len(name) && name[i+1] == ':' {
				start = i + 2
				i++
			}
		}
	}
	last := name[start:]
	if i := strings.IndexAny(last, "<["); i >= 0 {
		last = last[:i]
	}
	for i := 0; i < len(last); i++ {
		c := last[i]
		if !(c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return ""
		}
	}
	return last
}

// spellsIdentifier reports whether the mangled name contains a
// <source-name> (a length, then that many characters) whose identifier is
// in idents. A length may follow other digits, so it is read from every
// digit on.
func spellsIdentifier(name string, idents map[string]bool) bool {
	for i := 0; i < len(name); i++ {
		n, j := 0, i
		for j < len(name) && name[j] >= '0' && name[j] <= '9' && n <= len(name) {
			n = n*10 + int(name[j]-'0')
			j++
		}
		if n > 0 && j+n <= len(name) && idents[name[j:j+n]] {
			return true
		}
	}
	return false
}

// sameTables reports whether two vtable groups have identical contents
// (by symbol: the common case, decided without demangling).
func sameTables(o, n *cxx.VTable) bool {
	if len(o.Tables) != len(n.Tables) {
		return false
	}
	for i := range o.Tables {
		a, b := o.Tables[i], n.Tables[i]
		if a.OffsetToTop != b.OffsetToTop || a.RTTI != b.RTTI || !slices.Equal(a.Offsets, b.Offsets) || len(a.Slots) != len(b.Slots) {
			return false
		}
		for j := range a.Slots {
			if a.Slots[j].Target != b.Slots[j].Target || (a.Slots[j].Target == "" && (a.Slots[j].Addr == 0) != (b.Slots[j].Addr == 0)) {
				return false
			}
		}
	}
	return true
}

// diffVTable compares one class's vtable group.
func (d *vdiffer) diffVTable(o, n *cxx.VTable) []Change {
	if sameTables(o, n) {
		return nil
	}
	var out []Change
	if len(o.Tables) != len(n.Tables) {
		out = append(out, Change{Kind: VTableLayoutChanged, Symbol: "", Where: "vtable group",
			Old: fmt.Sprintf("%d vtables", len(o.Tables)), New: fmt.Sprintf("%d vtables", len(n.Tables)),
			Detail: fmt.Sprintf("the vtable group of %s now has %d vtables instead of %d (base classes changed)",
				o.Class, len(n.Tables), len(o.Tables))})
	}
	for t := 0; t < len(o.Tables) && t < len(n.Tables); t++ {
		ot, nt := o.Tables[t], n.Tables[t]
		where := ""
		if t > 0 {
			where = fmt.Sprintf("secondary vtable %d, ", t)
		}
		if t > 0 && ot.OffsetToTop != nt.OffsetToTop {
			out = append(out, Change{Kind: VTableLayoutChanged, Where: strings.TrimSuffix(where, ", "),
				Old: fmt.Sprintf("offset-to-top %d", ot.OffsetToTop), New: fmt.Sprintf("offset-to-top %d", nt.OffsetToTop),
				Detail: fmt.Sprintf("a base subobject of %s moved from offset %d to %d", o.Class, -ot.OffsetToTop, -nt.OffsetToTop)})
		}
		if !slices.Equal(ot.Offsets, nt.Offsets) {
			out = append(out, Change{Kind: VTableLayoutChanged, Where: where + "virtual base and call offsets",
				Old: fmt.Sprint(ot.Offsets), New: fmt.Sprint(nt.Offsets),
				Detail: fmt.Sprintf("the virtual-base and virtual-call offsets of %s changed from %v to %v", o.Class, ot.Offsets, nt.Offsets)})
		}
		if t > 0 && len(o.Tables) != len(n.Tables) {
			continue // secondary tables no longer correspond
		}
		out = append(out, d.diffSlots(o.Class, where, slotIDs(ot.Slots), slotIDs(nt.Slots))...)
	}
	return out
}

// diffSlots aligns two vtables' slots by virtual-function identity (a
// longest common subsequence) and names each difference: a function in
// neither alignment nor the other table was removed or added (appended
// when every old slot keeps its place, inserted otherwise); one in both
// tables but outside the alignment moved; a removed and an added function
// in the same slot are a replacement (or the function became pure); an
// aligned slot whose implementation changed class was overridden.
func (d *vdiffer) diffSlots(class, where string, o, n []slotID) []Change {
	if slices.Equal(o, n) {
		return nil
	}
	// A null slot is never called (it is the destructor of an abstract
	// class, whose complete objects do not exist): it matches whatever the
	// other version has in the same slot.
	o, n = slices.Clone(o), slices.Clone(n)
	for i := 0; i < len(o) && i < len(n); i++ {
		switch {
		case o[i].null && !n[i].null:
			o[i] = n[i]
		case n[i].null && !o[i].null:
			n[i] = o[i]
		}
	}
	match := alignSlots(o, n) // old index → new index, -1 when unaligned
	inNew := make(map[string]int, len(n))
	for j, s := range n {
		inNew[s.key] = j
	}
	inOld := make(map[string]int, len(o))
	for i, s := range o {
		inOld[s.key] = i
	}
	newAligned := make([]bool, len(n))
	for _, j := range match {
		if j >= 0 {
			newAligned[j] = true
		}
	}
	prefixKept := len(n) >= len(o)
	for i := range o {
		if !prefixKept || o[i].key != n[i].key {
			prefixKept = false
			break
		}
	}
	slot := func(i int) string { return fmt.Sprintf("%sslot %d", where, i) }
	var out []Change
	consumed := make([]bool, len(n))
	for i, s := range o {
		j := match[i]
		switch {
		case j >= 0:
			// Unnamed targets (local functions of a stripped library)
			// have no identity to compare beyond their position.
			if s.pure || n[j].pure || s.sym == "" || n[j].sym == "" || s.sym == n[j].sym && s.text == n[j].text {
				continue
			}
			if was, now := s.impl(), n[j].impl(); was != now {
				out = append(out, Change{Kind: VirtualOverridden, Where: slot(j), Old: was, New: now,
					Detail: fmt.Sprintf("%s of %s now calls %s instead of %s", slot(j), class, now, was)})
			}
		case hasKey(inNew, s.key):
			j := inNew[s.key]
			consumed[j] = true
			out = append(out, Change{Kind: VirtualMoved, Where: slot(i), Old: slot(i), New: slot(j),
				Detail: fmt.Sprintf("virtual %s of %s moved from %s to %s", s.impl(), class, slot(i), slot(j))})
		case i < len(n) && !newAligned[i] && !consumed[i] && !hasKey(inOld, n[i].key):
			consumed[i] = true
			was, now := s.impl(), n[i].impl()
			k := VirtualReplaced
			detail := fmt.Sprintf("%s of %s now holds %s instead of %s", slot(i), class, now, was)
			switch {
			case n[i].pure && !s.pure:
				k = VirtualBecamePure
				detail = fmt.Sprintf("virtual %s of %s became pure (%s)", was, class, slot(i))
			case s.pure && !n[i].pure:
				k = VirtualBecameConcrete
				detail = fmt.Sprintf("pure virtual %s of %s is now implemented by %s", slot(i), class, now)
			}
			out = append(out, Change{Kind: k, Where: slot(i), Old: was, New: now, Detail: detail})
		case d.becameNonVirtual(s.sym):
			was := s.impl()
			out = append(out, Change{Kind: MethodBecameNonVirtual, Where: slot(i), Old: was,
				Detail: fmt.Sprintf("%s is no longer virtual: %s of %s is gone", was, slot(i), class)})
		default:
			was := s.impl()
			out = append(out, Change{Kind: VirtualRemoved, Where: slot(i), Old: was,
				Detail: fmt.Sprintf("virtual %s removed from %s (%s)", was, class, slot(i))})
		}
	}
	for j, s := range n {
		if newAligned[j] || consumed[j] || hasKey(inOld, s.key) {
			continue
		}
		now := s.impl()
		switch {
		case d.becameVirtual(s.sym):
			out = append(out, Change{Kind: MethodBecameVirtual, Where: slot(j), New: now,
				Detail: fmt.Sprintf("%s became virtual, in %s of %s", now, slot(j), class)})
		case prefixKept && j >= len(o):
			out = append(out, Change{Kind: VirtualAppended, Where: slot(j), New: now,
				Detail: fmt.Sprintf("virtual %s added to %s after its last slot (%s)", now, class, slot(j))})
		default:
			out = append(out, Change{Kind: VirtualInserted, Where: slot(j), New: now,
				Detail: fmt.Sprintf("virtual %s inserted into %s at %s", now, class, slot(j))})
		}
	}
	if onlyKinds(out, VirtualMoved, VirtualOverridden) {
		// A pure permutation: slots the alignment kept also changed place,
		// and no insertion or removal explains it.
		for i, j := range match {
			if j >= 0 && j != i {
				out = append(out, Change{Kind: VirtualMoved, Where: slot(i), Old: slot(i), New: slot(j),
					Detail: fmt.Sprintf("virtual %s of %s moved from %s to %s", o[i].impl(), class, slot(i), slot(j))})
			}
		}
	}
	return out
}

func onlyKinds(cs []Change, kinds ...Kind) bool {
	for _, c := range cs {
		if !slices.Contains(kinds, c.Kind) {
			return false
		}
	}
	return true
}

func hasKey(m map[string]int, k string) bool { _, ok := m[k]; return ok }

// alignSlots returns, for each old slot, the index of the new slot it is
// aligned with in a longest common subsequence of the slot keys, or -1.
// Tables too large for the quadratic table are aligned by position.
func alignSlots(o, n []slotID) []int {
	match := make([]int, len(o))
	for i := range match {
		match[i] = -1
	}
	if len(o)*len(n) > maxLCSCells {
		for i := 0; i < len(o) && i < len(n); i++ {
			if o[i].key == n[i].key {
				match[i] = i
			}
		}
		return match
	}
	// lcs[i][j] = length of the LCS of o[i:] and n[j:].
	w := len(n) + 1
	lcs := make([]int, (len(o)+1)*w)
	for i := len(o) - 1; i >= 0; i-- {
		for j := len(n) - 1; j >= 0; j-- {
			if o[i].key == n[j].key {
				lcs[i*w+j] = lcs[(i+1)*w+j+1] + 1
			} else {
				lcs[i*w+j] = max(lcs[(i+1)*w+j], lcs[i*w+j+1])
			}
		}
	}
	for i, j := 0, 0; i < len(o) && j < len(n); {
		switch {
		case o[i].key == n[j].key:
			match[i] = j
			i++
			j++
		case lcs[(i+1)*w+j] >= lcs[i*w+j+1]:
			i++
		default:
			j++
		}
	}
	return match
}
