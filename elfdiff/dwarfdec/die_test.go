package dwarfdec

import (
	"bytes"
	"debug/dwarf"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/compatgate/compatgate/internal/testlib"
)

// TestTypeDIEMatchesDebugDWARF decodes every DIE of libraries built with
// each DWARF version, compression, split DWARF and type units with the
// DIE decoder and with debug/dwarf, and compares every attribute the
// decoders read, and the children of every DIE.
func TestTypeDIEMatchesDebugDWARF(t *testing.T) {
	cases := testlib.Builds()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			df := openScanLib(t, testlib.BuildLib(t, tc.Compiler, tc.Src, tc.Flags...))
			if n := compareDecoder(t, df); n < 20 && tc.Name != "c-split" {
				t.Fatalf("only %d DIEs read", n)
			}
		})
	}
}

// compareDecoder decodes every DIE of df with the DIE decoder and with
// debug/dwarf and compares them; it returns how many DIEs it compared.
func compareDecoder(t *testing.T, df *File) int {
	t.Helper()
	dd := NewDecoder(df.Sec, scannedHeaders(t, df))
	dd.raw = true // as debug/dwarf reads them
	r := mustDWARF(t, df).Reader()
	n := 0
	for {
		want, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if want == nil {
			return n
		}
		if want.Tag == 0 {
			continue
		}
		n++
		var got DIE
		if err := dd.Read(want.Offset, &got); err != nil {
			t.Fatalf("DIE at %#x: %v", want.Offset, err)
		}
		compareTypeDIE(t, want, &got)
		if want.Children && want.Tag != dwarf.TagCompileUnit && want.Tag != dwarf.TagTypeUnit {
			compareChildren(t, mustDWARF(t, df), dd, &got)
		}
	}
}

// compareTypeDIE compares what the decoder read of a DIE with debug/dwarf's
// Entry.
func compareTypeDIE(t *testing.T, want *dwarf.Entry, got *DIE) {
	t.Helper()
	at := want.Offset
	if got.Off != at || got.Tag != want.Tag || got.children != want.Children {
		t.Fatalf("DIE at %#x: decoded at %#x tag %v children %v, want tag %v children %v",
			at, got.Off, got.Tag, got.children, want.Tag, want.Children)
	}
	for i := range want.Field {
		f := &want.Field[i]
		slot := slotOf(f.Attr)
		if slot == noSlot || want.AttrField(f.Attr) != f { // Val returns the first
			continue
		}
		kind, v, b := entryValue(want.Val(f.Attr))
		if got.Kinds[slot] != kind {
			t.Errorf("DIE at %#x: %v is of kind %d, want %d (%T)", at, f.Attr, got.Kinds[slot], kind, f.Val)
			continue
		}
		switch kind {
		case valString:
			s, _ := got.Str(slot)
			if slot != SlotName && slot != SlotLinkageName {
				break
			}
			if s != string(b) {
				t.Errorf("DIE at %#x: %v = %q, want %q", at, f.Attr, s, b)
			}
		case valBytes:
			if slot != SlotDataMemberLoc && slot != SlotVtableElemLoc {
				break
			}
			if g, _ := got.Block(slot); !bytes.Equal(g, b) {
				t.Errorf("DIE at %#x: %v = %x, want %x", at, f.Attr, g, b)
			}
		default:
			if got.Vals[slot] != v {
				t.Errorf("DIE at %#x: %v = %#x, want %#x", at, f.Attr, got.Vals[slot], v)
			}
		}
	}
	for slot := range numSlots {
		if got.Kinds[slot] == ValNone {
			continue
		}
		found := false
		for _, f := range want.Field {
			if slotOf(f.Attr) == slot {
				found = true
			}
		}
		if !found {
			t.Errorf("DIE at %#x: slot %d decoded, debug/dwarf has no such attribute", at, slot)
		}
	}
}

// entryValue returns the kind and value of a value of debug/dwarf.
func entryValue(v any) (ValueKind, uint64, []byte) {
	switch v := v.(type) {
	case nil:
		return ValNone, 0, nil
	case int64:
		return ValInt, uint64(v), nil
	case uint64:
		return ValUint, v, nil
	case uint32:
		return valUint32, uint64(v), nil
	case bool:
		if v {
			return valBool, 1, nil
		}
		return valBool, 0, nil
	case dwarf.Offset:
		return ValOffset, uint64(v), nil
	case []byte:
		return valBytes, 0, v
	case string:
		return valString, 0, []byte(v)
	}
	panic("unexpected value type")
}

// compareChildren compares the children of d, as the decoder's cursor
// walks them, with those debug/dwarf's Reader returns.
func compareChildren(t *testing.T, data *dwarf.Data, dd *Decoder, d *DIE) {
	t.Helper()
	var got []dwarf.Offset
	var k DIE
	for c := ChildrenOf(d); ; {
		ok, err := dd.Next(&c, &k)
		if err != nil {
			t.Fatalf("children of DIE at %#x: %v", d.Off, err)
		}
		if !ok {
			break
		}
		got = append(got, k.Off)
	}
	var want []dwarf.Offset
	r := data.Reader()
	r.Seek(d.Off)
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	for {
		e, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if e == nil || e.Tag == 0 {
			break
		}
		want = append(want, e.Offset)
		r.SkipChildren()
	}
	if len(got) != len(want) {
		t.Fatalf("DIE at %#x: %d children, want %d", d.Off, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("DIE at %#x: child %d at %#x, want %#x", d.Off, i, got[i], want[i])
		}
	}
}

// dwarfBuilder writes DWARF encodings, little-endian.
type dwarfBuilder struct{ bytes.Buffer }

func (b *dwarfBuilder) u8(v uint8)   { b.WriteByte(v) }
func (b *dwarfBuilder) u16(v uint16) { b.Write([]byte{byte(v), byte(v >> 8)}) }
func (b *dwarfBuilder) u24(v uint32) { b.Write([]byte{byte(v), byte(v >> 8), byte(v >> 16)}) }
func (b *dwarfBuilder) u32(v uint32) { b.u16(uint16(v)); b.u16(uint16(v >> 16)) }
func (b *dwarfBuilder) u64(v uint64) { b.u32(uint32(v)); b.u32(uint32(v >> 32)) }
func (b *dwarfBuilder) str(s string) { b.WriteString(s); b.WriteByte(0) }

func (b *dwarfBuilder) uleb(v uint64) {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			c |= 0x80
		}
		b.WriteByte(c)
		if v == 0 {
			return
		}
	}
}

func (b *dwarfBuilder) sleb(v int64) {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 && c&0x40 == 0 || v == -1 && c&0x40 != 0 {
			b.WriteByte(c)
			return
		}
		b.WriteByte(c | 0x80)
	}
}

// formAttr is one attribute of a DIE built by TestTypeDIEForms: its
// specification and how its value is written.
type formAttr struct {
	attr     dwarf.Attr
	form     uint32
	implicit int64
	write    func(b *dwarfBuilder)
}

// TestTypeDIEForms builds a DWARF 5 unit whose DIEs use every attribute
// form, some where no compiler puts them, and compares what the decoder
// reads of them with debug/dwarf.
func TestTypeDIEForms(t *testing.T) {
	var str, lineStr, strOffs, addr, rngl dwarfBuilder
	str.str("")
	str.str("producer")
	str.str("strp name")
	// .debug_str_offsets: a DWARF 5 header, then an offset per string.
	strs := []string{"unit", "strx1 name", "strx decl", "strx2", "strx3", "strx4"}
	strOffs.u32(uint32(4 + 4*len(strs)))
	strOffs.u16(5)
	strOffs.u16(0)
	for _, s := range strs {
		strOffs.u32(uint32(str.Len()))
		str.str(s)
	}
	lineStr.str("line_strp linkage")
	// .debug_addr: a header, then the addresses.
	addr.u32(4 + 8*5)
	addr.u16(5)
	addr.u8(8)
	addr.u8(0)
	for i := range 5 {
		addr.u64(0x1000 * uint64(i+1))
	}
	// .debug_rnglists: a header, then the offset array.
	rngl.u32(8 + 4*2)
	rngl.u16(5)
	rngl.u8(8)
	rngl.u8(0)
	rngl.u32(2)
	rngl.u32(0x40)
	rngl.u32(0x80)

	w := func(f func(b *dwarfBuilder)) func(b *dwarfBuilder) { return f }
	// Offsets of the DIEs, fixed by the layout below (checked after).
	var offVariable, offStruct uint32
	member := []formAttr{
		{dwarf.AttrName, formStrx1, 0, w(func(b *dwarfBuilder) { b.u8(1) })},
		{dwarf.AttrLinkageName, formLineStrp, 0, w(func(b *dwarfBuilder) { b.u32(0) })},
		{dwarf.AttrType, formRefSig8, 0, w(func(b *dwarfBuilder) { b.u64(0xfeedface12345678) })},
		{dwarf.AttrAbstractOrigin, formRefAddr, 0, w(func(b *dwarfBuilder) { b.u32(offVariable) })},
		{dwarf.AttrSpecification, formRefUdata, 0, w(func(b *dwarfBuilder) { b.uleb(uint64(offVariable)) })},
		{dwarf.AttrInline, formData1, 0, w(func(b *dwarfBuilder) { b.u8(3) })},
		{dwarf.AttrArtificial, formFlag, 0, w(func(b *dwarfBuilder) { b.u8(1) })},
		{dwarf.AttrExternal, formFlagPresent, 0, w(func(b *dwarfBuilder) {})},
		{dwarf.AttrDeclaration, formFlag, 0, w(func(b *dwarfBuilder) { b.u8(2) })}, // debug/dwarf: false
		{dwarf.AttrAccessibility, formSdata, 0, w(func(b *dwarfBuilder) { b.sleb(-3) })},
		{dwarf.AttrVirtuality, formUdata, 0, w(func(b *dwarfBuilder) { b.uleb(300) })},
		{dwarf.AttrDataMemberLoc, formBlock1, 0, w(func(b *dwarfBuilder) { b.u8(2); b.u8(0x23); b.u8(8) })},
		{dwarf.AttrVtableElemLoc, formExprloc, 0, w(func(b *dwarfBuilder) { b.uleb(2); b.u8(OpConstu); b.u8(2) })},
		{attrDeleted, formIndirect, 0, w(func(b *dwarfBuilder) { b.uleb(formFlagPresent) })},
		{attrDefaulted, formImplicitConst, -7, w(func(b *dwarfBuilder) {})},
		{attrCallingConvention, formData2, 0, w(func(b *dwarfBuilder) { b.u16(0xbeef) })},
		{dwarf.AttrByteSize, formData4, 0, w(func(b *dwarfBuilder) { b.u32(0xdeadbeef) })},
		{dwarf.AttrAlignment, formData8, 0, w(func(b *dwarfBuilder) { b.u64(1 << 63) })},
		{dwarf.AttrEncoding, formSecOffset, 0, w(func(b *dwarfBuilder) { b.u32(77) })},
		{dwarf.AttrBitSize, formAddr, 0, w(func(b *dwarfBuilder) { b.u64(0x401000) })},
		{dwarf.AttrDataBitOffset, formAddrx1, 0, w(func(b *dwarfBuilder) { b.u8(1) })},
		{dwarf.AttrBitOffset, formLoclistx, 0, w(func(b *dwarfBuilder) { b.uleb(5) })},
		{dwarf.AttrConstValue, formData16, 0, w(func(b *dwarfBuilder) { b.Write(make([]byte, 16)) })},
		{dwarf.AttrCount, formRnglistx, 0, w(func(b *dwarfBuilder) { b.uleb(1) })},
		{dwarf.AttrUpperBound, formStrpSup, 0, w(func(b *dwarfBuilder) { b.u32(9) })},
		{dwarf.AttrLowerBound, formRefSup4, 0, w(func(b *dwarfBuilder) { b.u32(10) })},
		{attrGNUVector, formRefSup8, 0, w(func(b *dwarfBuilder) { b.u64(11) })},
		{dwarf.AttrDeclFile, formStrx, 0, w(func(b *dwarfBuilder) { b.uleb(2) })},
		{dwarf.AttrSibling, formRef2, 0, w(func(b *dwarfBuilder) { b.u16(uint16(offVariable)) })},
	}
	variable := []formAttr{
		{dwarf.AttrName, formStrp, 0, w(func(b *dwarfBuilder) { b.u32(10) })},
		{dwarf.AttrName, formString, 0, w(func(b *dwarfBuilder) { b.str("second name") })}, // Val returns the first
		{dwarf.AttrLinkageName, formString, 0, w(func(b *dwarfBuilder) { b.str("_Z1v") })},
		{dwarf.AttrType, formRef8, 0, w(func(b *dwarfBuilder) { b.u64(uint64(offStruct)) })},
		{dwarf.AttrAbstractOrigin, formRef4, 0, w(func(b *dwarfBuilder) { b.u32(offStruct) })},
		{dwarf.AttrSpecification, formRef1, 0, w(func(b *dwarfBuilder) { b.u8(uint8(offStruct)) })},
		{dwarf.AttrAccessibility, formRef2, 0, w(func(b *dwarfBuilder) { b.u16(2) })},
		{dwarf.AttrDataMemberLoc, formBlock2, 0, w(func(b *dwarfBuilder) { b.u16(1); b.u8(9) })},
		{dwarf.AttrVtableElemLoc, formBlock4, 0, w(func(b *dwarfBuilder) { b.u32(1); b.u8(7) })},
		{dwarf.AttrConstValue, formBlock, 0, w(func(b *dwarfBuilder) { b.uleb(3); b.Write([]byte{1, 2, 3}) })},
		{dwarf.AttrByteSize, formAddrx, 0, w(func(b *dwarfBuilder) { b.uleb(2) })},
		{dwarf.AttrAlignment, formAddrx2, 0, w(func(b *dwarfBuilder) { b.u16(3) })},
		{dwarf.AttrEncoding, formAddrx3, 0, w(func(b *dwarfBuilder) { b.u24(4) })},
		{dwarf.AttrBitSize, formAddrx4, 0, w(func(b *dwarfBuilder) { b.u32(0) })},
		{dwarf.AttrCount, formStrx2, 0, w(func(b *dwarfBuilder) { b.u16(3) })},
		{dwarf.AttrUpperBound, formStrx3, 0, w(func(b *dwarfBuilder) { b.u24(4) })},
		{dwarf.AttrLowerBound, formStrx4, 0, w(func(b *dwarfBuilder) { b.u32(5) })},
		{dwarf.AttrDeclFile, formGNURefAlt, 0, w(func(b *dwarfBuilder) { b.u32(12) })},
		{dwarf.AttrInline, formGNUStrpAlt, 0, w(func(b *dwarfBuilder) { b.u32(13) })},
		{dwarf.AttrDeclLine, formData1, 0, w(func(b *dwarfBuilder) { b.u8(14) })},
		{dwarf.AttrProducer, formStrp, 0, w(func(b *dwarfBuilder) { b.u32(1) })},
		{dwarf.AttrExternal, formFlag, 0, w(func(b *dwarfBuilder) { b.u8(0) })},
	}
	unit := []formAttr{
		{dwarf.AttrName, formStrx1, 0, w(func(b *dwarfBuilder) { b.u8(0) })},
		{dwarf.AttrStrOffsetsBase, formSecOffset, 0, w(func(b *dwarfBuilder) { b.u32(8) })},
		{dwarf.AttrAddrBase, formSecOffset, 0, w(func(b *dwarfBuilder) { b.u32(8) })},
		{dwarf.AttrRnglistsBase, formSecOffset, 0, w(func(b *dwarfBuilder) { b.u32(12) })},
	}
	structAttrs := []formAttr{{dwarf.AttrName, formString, 0, w(func(b *dwarfBuilder) { b.str("S") })}}
	leaf := []formAttr{{dwarf.AttrName, formString, 0, w(func(b *dwarfBuilder) { b.str("m") })}}
	shapes := []struct {
		tag      dwarf.Tag
		children bool
		attrs    []formAttr
	}{
		1: {dwarf.TagCompileUnit, true, unit},
		2: {dwarf.TagMember, false, member},
		3: {dwarf.TagVariable, false, variable},
		4: {dwarf.TagStructType, true, structAttrs}, // children found by walking
		5: {dwarf.TagMember, false, leaf},
	}
	var abbrev dwarfBuilder
	for code := 1; code < len(shapes); code++ {
		s := shapes[code]
		abbrev.uleb(uint64(code))
		abbrev.uleb(uint64(s.tag))
		if s.children {
			abbrev.u8(1)
		} else {
			abbrev.u8(0)
		}
		for _, a := range s.attrs {
			abbrev.uleb(uint64(a.attr))
			abbrev.uleb(uint64(a.form))
			if a.form == formImplicitConst {
				abbrev.sleb(a.implicit)
			}
		}
		abbrev.u16(0)
	}
	abbrev.u8(0)
	// The unit, written twice: the first time to learn the offsets.
	build := func() []byte {
		var b dwarfBuilder
		b.u32(0) // length, patched below
		b.u16(5)
		b.u8(utCompile)
		b.u8(8)
		b.u32(0)
		die := func(code int) {
			b.uleb(uint64(code))
			for _, a := range shapes[code].attrs {
				a.write(&b)
			}
		}
		die(1)
		die(2)
		offVariable = uint32(b.Len())
		die(3)
		offStruct = uint32(b.Len())
		die(4)
		die(5)
		die(4) // a nested struct, no sibling attribute either
		die(5)
		b.u8(0)
		b.u8(0)
		die(5)
		b.u8(0) // end of the struct's children
		b.u8(0) // end of the unit's
		out := b.Bytes()
		l := uint32(len(out) - 4)
		out[0], out[1], out[2], out[3] = byte(l), byte(l>>8), byte(l>>16), byte(l>>24)
		return out
	}
	build()
	info := build()

	sec := &Sections{Order: binary.LittleEndian, Info: info, abbrev: abbrev.Bytes(), Str: str.Bytes(),
		LineStr: lineStr.Bytes(), strOffsets: strOffs.Bytes(), addr: addr.Bytes(), rnglists: rngl.Bytes()}
	df := &File{Sec: sec}
	if n := compareDecoder(t, df); n != 8 {
		t.Fatalf("%d DIEs compared, want 8", n)
	}

	// The same unit cut after the leaf of the nested struct: the lists of
	// children of the structs and of the unit end with the unit, as they
	// do for debug/dwarf at the end of .debug_info.
	cut := append([]byte(nil), info[:len(info)-7]...) // 0 0 {5 "m"} 0 0
	binary.LittleEndian.PutUint32(cut, uint32(len(cut)-4))
	sec.Info = cut
	data := mustDWARF(t, &File{Sec: sec})
	s := NewScanner(sec)
	if _, err := s.Next(); err != nil {
		t.Fatal(err)
	}
	dd := NewDecoder(sec, s.Headers)
	var cu DIE
	if err := dd.Read(dwarf.Offset(s.Headers[0].first), &cu); err != nil {
		t.Fatal(err)
	}
	compareChildren(t, data, dd, &cu)
}

// TestDIEDecoderMalformed cuts and corrupts .debug_info and decodes a DIE,
// and its children, at every offset, and compares it with the last DIE
// read (SameDIEs): the decoder must fail with an error, never a panic
// or an endless loop.
func TestDIEDecoderMalformed(t *testing.T) {
	so := testlib.BuildLib(t, "g++", testlib.CXXSrc, "-gdwarf-5", "-O1")
	df := openScanLib(t, so)
	info := df.Sec.Info
	for _, n := range []int{len(info) / 3, len(info) - 1, len(info)} {
		for _, corrupt := range []bool{false, true} {
			sec := *df.Sec
			sec.Info = append([]byte(nil), info[:n]...)
			if corrupt {
				for i := 20; i < n; i += 13 {
					sec.Info[i] ^= 0x5a
				}
			}
			s := NewScanner(&sec)
			for {
				if d, err := s.Next(); err != nil || d == nil {
					break
				}
			}
			dd := NewDecoder(&sec, s.Headers)
			var d, k DIE
			all := NewSlotSet(SlotName, SlotType, SlotDataMemberLoc, SlotByteSize, SlotDeclFile, SlotDeclLine)
			prev := dwarf.Offset(0)
			for off := range n {
				if dd.Read(dwarf.Offset(off), &d) != nil {
					continue
				}
				dd.SameDIEs(dwarf.Offset(off), prev, all, anyPair{})
				prev = dwarf.Offset(off)
				for c, steps := ChildrenOf(&d), 0; ; steps++ {
					if steps > n {
						t.Fatalf("cut at %d (corrupt %v): the children of %#x do not end", n, corrupt, off)
					}
					if ok, err := dd.Next(&c, &k); !ok || err != nil {
						break
					}
				}
			}
		}
	}
}

// TestReadAlternatingUnits reads the DIEs of a library of three units in
// an order that goes back and forth between them, as a comparison of two
// copies of a type does, and compares each with debug/dwarf's reading:
// the decoder keeps the last two units it read, and must not take one
// for another.
func TestReadAlternatingUnits(t *testing.T) {
	srcs := map[string]string{}
	for u := range 3 {
		srcs[fmt.Sprintf("u%d.c", u)] = fmt.Sprintf("struct s%[1]d { int a%[1]d; long b; char c[%[2]d]; };\n"+
			"int f%[1]d(struct s%[1]d *p) { return p->a%[1]d + (int)p->b; }\n", u, u+2)
	}
	df := openScanLib(t, testlib.BuildUnitsWith(t, "gcc", srcs))
	byUnit := testlib.EntriesByUnit(t, mustDWARF(t, df))
	if len(byUnit) != 3 {
		t.Fatalf("%d units, want 3", len(byUnit))
	}
	dd := NewDecoder(df.Sec, scannedHeaders(t, df))
	dd.raw = true
	n := 0
	for k := 0; k < len(byUnit[0]) || k < len(byUnit[1]) || k < len(byUnit[2]); k++ {
		for _, u := range []int{0, 1, 0, 2, 1, 2} {
			if k >= len(byUnit[u]) {
				continue
			}
			want := byUnit[u][k]
			var got DIE
			if err := dd.Read(want.Offset, &got); err != nil {
				t.Fatalf("DIE at %#x: %v", want.Offset, err)
			}
			compareTypeDIE(t, want, &got)
			n++
		}
	}
	if n < 3*8 {
		t.Fatalf("only %d DIEs read", n)
	}
}

// scannedHeaders scans every DIE of df and returns the headers of its
// units, as the index gives them to the decoder.
func scannedHeaders(t *testing.T, df *File) []ScanUnit {
	t.Helper()
	s := NewScanner(df.Sec)
	for {
		d, err := s.Next()
		if err != nil {
			t.Fatal(err)
		}
		if d == nil {
			return s.Headers
		}
	}
}

// anyPair judges every pair of references and files the same.
type anyPair struct{}

func (anyPair) Enter(dwarf.Tag, dwarf.Offset, dwarf.Offset) bool { return true }
func (anyPair) SameRef(Slot, dwarf.Offset, dwarf.Offset) bool    { return true }
func (anyPair) SameDeclFile(_, _ dwarf.Offset, _, _ int64) bool  { return true }
