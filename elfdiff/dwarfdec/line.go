package dwarfdec

// This file reads the file names of a line table header, which say where
// the types of a unit were declared. debug/dwarf's LineReader joins every
// name to its directory (path.Join, for the hundreds of headers each C++
// unit includes) while the checker only asks whether the file of a class
// is a source file or a header: its extension, which the name alone gives
// unless its last element is empty, "." or "..". The header is checked as
// LineReader checks it, so that a table it would reject lists no files
// here either.

import (
	"bytes"
	"encoding/binary"
	"errors"
)

// lineOpcodeLength returns the operand count debug/dwarf requires a line
// table header to give standard opcode op, or -1 when it checks none
// (DW_LNS_set_column, DW_LNS_fixed_advance_pc, unknown opcodes).
func lineOpcodeLength(op int) int {
	switch op {
	case 1, 6, 7, 8, 10, 11: // copy, negate_stmt, set_basic_block, const_add_pc, set_prologue_end, set_epilogue_begin
		return 0
	case 2, 3, 4, 12: // advance_pc, advance_line, set_file, set_isa
		return 1
	}
	return -1
}

// DW_LNCT content types.
const (
	lnctPath           = 1
	lnctDirectoryIndex = 2
)

var errLineHeader = errors.New("malformed line table header")

// lineBuf reads a line table header as debug/dwarf's buf does: a read past
// the end fails and empties the buffer, and an unterminated LEB128 number
// reads as 0, without error.
type lineBuf struct {
	data  []byte
	off   uint32 // debug/dwarf's Offset, which wraps at 32 bits
	order binary.ByteOrder
	err   error
}

func (b *lineBuf) bytes(n int) []byte {
	if n < 0 || len(b.data) < n {
		b.data, b.err = nil, errLineHeader
		return nil
	}
	v := b.data[:n]
	b.data = b.data[n:]
	b.off += uint32(n)
	return v
}

func (b *lineBuf) u8() uint8 {
	if v := b.bytes(1); v != nil {
		return v[0]
	}
	return 0
}

func (b *lineBuf) u16() uint16 {
	if v := b.bytes(2); v != nil {
		return b.order.Uint16(v)
	}
	return 0
}

func (b *lineBuf) u32() uint32 {
	if v := b.bytes(4); v != nil {
		return b.order.Uint32(v)
	}
	return 0
}

func (b *lineBuf) u64() uint64 {
	if v := b.bytes(8); v != nil {
		return b.order.Uint64(v)
	}
	return 0
}

func (b *lineBuf) uleb() uint64 {
	var c uint64
	var bits uint
	for i, x := range b.data {
		c |= uint64(x&0x7f) << bits
		bits += 7
		if x&0x80 == 0 {
			b.data = b.data[i+1:]
			b.off += uint32(i + 1)
			return c
		}
	}
	return 0
}

func (b *lineBuf) cstring() []byte {
	i := bytes.IndexByte(b.data, 0)
	if i < 0 {
		b.data, b.err = nil, errLineHeader
		return nil
	}
	v := b.data[:i]
	b.data = b.data[i+1:]
	b.off += uint32(i + 1)
	return v
}

// LineFileNames returns the file names of the line table at off in
// .debug_line, unjoined to their directories, indexed as debug/dwarf's
// LineReader.Files indexes its files (nil where it has none). It fails
// where LineReader fails. str and lineStr are .debug_str and
// .debug_line_str.
func LineFileNames(line, str, lineStr []byte, order binary.ByteOrder, off int64) ([][]byte, error) {
	if off < 0 || off > int64(len(line)) {
		return nil, errLineHeader
	}
	b := &lineBuf{data: line[off:], off: uint32(off), order: order}
	// The unit length, as buf.unitLength reads it.
	length, dwarf64 := b.u32(), false
	if length == 0xffffffff {
		dwarf64 = true
		length = uint32(b.u64())
	} else if length >= 0xfffffff0 {
		return nil, errLineHeader
	}
	if b.err != nil {
		return nil, b.err
	}
	end := b.off + length
	if end > b.off+uint32(len(b.data)) {
		return nil, errLineHeader
	}
	version := b.u16()
	if b.err == nil && (version < 2 || version > 5) {
		return nil, errLineHeader
	}
	if version >= 5 {
		b.u8() // address size
		b.u8() // segment selector size
	}
	var headerLength uint32
	if dwarf64 {
		headerLength = uint32(b.u64())
	} else {
		headerLength = b.u32()
	}
	if b.off+headerLength > end {
		return nil, errLineHeader
	}
	b.u8() // minimum instruction length
	maxOps := uint8(1)
	if version >= 4 {
		maxOps = b.u8()
	}
	b.u8() // default is_stmt
	b.u8() // line base
	lineRange := b.u8()
	if b.err != nil || maxOps == 0 || lineRange == 0 {
		return nil, errLineHeader
	}
	opcodeBase := int(b.u8())
	var lengths [256]uint8
	for i := 1; i < opcodeBase; i++ {
		lengths[i] = b.u8()
	}
	if b.err != nil {
		return nil, b.err
	}
	for i := 1; i < opcodeBase; i++ {
		if n := lineOpcodeLength(i); n >= 0 && int(lengths[i]) != n {
			return nil, errLineHeader
		}
	}
	if version < 5 {
		dirs := 1 // the compilation directory
		for {
			d := b.cstring()
			if b.err != nil {
				return nil, b.err
			}
			if len(d) == 0 {
				break
			}
			dirs++
		}
		files := [][]byte{nil} // file numbers start at 1
		for {
			name := b.cstring()
			if b.err != nil {
				return nil, b.err
			}
			if len(name) == 0 {
				break
			}
			if dir := b.uleb(); !pathIsAbs(name) && dir >= uint64(dirs) {
				return nil, errLineHeader
			}
			b.uleb() // modification time
			b.uleb() // length
			files = append(files, name)
		}
		return files, b.err
	}
	dirFormat := readLNCTFormat(b)
	dirs := b.uleb()
	if dirs > uint64(len(line)) {
		return nil, errLineHeader // debug/dwarf would allocate as many
	}
	for range dirs {
		if _, err := readLNCT(b, dirFormat, dwarf64, dirs, str, lineStr); err != nil {
			return nil, err
		}
	}
	fileFormat := readLNCTFormat(b)
	n := b.uleb()
	if n > uint64(len(line)) {
		return nil, errLineHeader
	}
	files := make([][]byte, n)
	for i := range files {
		name, err := readLNCT(b, fileFormat, dwarf64, dirs, str, lineStr)
		if err != nil {
			return nil, err
		}
		files[i] = name
	}
	return files, b.err
}

// lnctForm is one field of the entries of a DWARF 5 directory or file
// name table: its content type and form.
type lnctForm struct {
	lnct, form uint64
}

func readLNCTFormat(b *lineBuf) []lnctForm {
	fs := make([]lnctForm, b.u8())
	for i := range fs {
		fs[i].lnct = b.uleb()
		fs[i].form = b.uleb()
	}
	return fs
}

// readLNCT reads one entry of a DWARF 5 directory or file name table and
// returns its path, unjoined, as debug/dwarf's LineReader reads it: forms
// it does not know are read as nothing.
func readLNCT(b *lineBuf, format []lnctForm, dwarf64 bool, dirs uint64, str, lineStr []byte) ([]byte, error) {
	var path []byte
	for _, f := range format {
		var val uint64
		var s []byte
		switch f.form {
		case formString:
			s = b.cstring()
		case formStrp, formLineStrp:
			var off uint64
			if dwarf64 {
				off = b.u64()
			} else {
				off = uint64(b.u32())
			}
			sec := str
			if f.form == formLineStrp {
				sec = lineStr
			}
			sb := &lineBuf{data: sec, order: b.order}
			sb.bytes(int(off))
			s = sb.cstring()
			if sb.err != nil {
				return nil, sb.err
			}
		case formStrpSup:
			if dwarf64 {
				b.u64()
			} else {
				b.u32()
			}
		case formStrx:
			b.uleb()
		case formStrx1:
			b.u8()
		case formStrx2:
			b.u16()
		case formStrx3:
			b.bytes(3)
		case formStrx4:
			b.u32()
		case formData1:
			val = uint64(b.u8())
		case formData2:
			val = uint64(b.u16())
		case formData4:
			val = uint64(b.u32())
		case formData8:
			val = b.u64()
		case formData16:
			b.bytes(16)
		case formBlock:
			b.bytes(int(b.uleb()))
		case formUdata:
			val = b.uleb()
		}
		switch f.lnct {
		case lnctPath:
			path = s
		case lnctDirectoryIndex:
			if val >= dirs {
				return nil, errLineHeader
			}
		}
	}
	return path, nil
}

// pathIsAbs reports whether a file name of a line table is absolute, as
// debug/dwarf decides it: after any drive letter, it starts with a slash
// or a backslash.
func pathIsAbs(name []byte) bool {
	if len(name) >= 2 && name[1] == ':' && ('a' <= name[0] && name[0] <= 'z' || 'A' <= name[0] && name[0] <= 'Z') {
		name = name[2:]
	}
	return len(name) > 0 && (name[0] == '/' || name[0] == '\\')
}

// ExtensionKnown reports whether the extension of a file name is that of
// the name debug/dwarf makes of it by joining it to its directory: when
// its last element is not empty, "." or "..", which path.Join would
// remove.
func ExtensionKnown(name []byte) bool {
	last := name[bytes.LastIndexByte(name, '/')+1:]
	return len(name) == 0 || len(last) > 0 && !bytes.Equal(last, []byte(".")) && !bytes.Equal(last, []byte(".."))
}
