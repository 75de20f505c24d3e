package dwarfdec

// This file reads the file names of a line table header, which say where
// the types of a unit were declared. debug/dwarf's LineReader joins every
// name to its directory (path.Join, for the hundreds of headers each C++
// unit includes) while the checker mostly asks whether the file of a class
// is a source file or a header: its extension, which the name alone gives
// unless its last element is empty, "." or "..". So the names are read
// unjoined, and joined as LineReader joins them only where a report needs
// the path (JoinedLineFileNames). The header is checked as LineReader
// checks it, so that a table it would reject lists no files here either.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"path"
	"strings"
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
	return lineFileNames(line, str, lineStr, order, off, nil)
}

// JoinedLineFileNames returns the names LineFileNames returns and, in
// one reading, each of them joined to its directory as debug/dwarf's
// LineReader.Files joins it ("" where it has none): relative directories
// of DWARF 2 to 4 are relative to compDir, the unit's DW_AT_comp_dir,
// which is also directory 0; DWARF 5 names are joined to their directory
// as the table spells it.
func JoinedLineFileNames(line, str, lineStr []byte, order binary.ByteOrder, off int64, compDir string) ([][]byte, []string, error) {
	j := &lineJoin{compDir: compDir}
	files, err := lineFileNames(line, str, lineStr, order, off, j)
	if err != nil {
		return nil, nil, err
	}
	return files, j.files, nil
}

// lineJoin collects the directories and the joined file names of a line
// table header, for JoinedLineFileNames.
type lineJoin struct {
	compDir string
	dirs    []string
	files   []string
}

// lineFileNames reads the file names of the line table at off; with j,
// it also joins them to their directories into j.files.
func lineFileNames(line, str, lineStr []byte, order binary.ByteOrder, off int64, j *lineJoin) ([][]byte, error) {
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
		if j != nil {
			j.dirs = append(j.dirs, j.compDir)
		}
		for {
			d := b.cstring()
			if b.err != nil {
				return nil, b.err
			}
			if len(d) == 0 {
				break
			}
			dirs++
			if j != nil {
				dir := string(d)
				if !pathIsAbs(d) {
					dir = pathJoin(j.compDir, dir)
				}
				j.dirs = append(j.dirs, dir)
			}
		}
		files := [][]byte{nil} // file numbers start at 1
		if j != nil {
			j.files = append(j.files, "")
		}
		for {
			name := b.cstring()
			if b.err != nil {
				return nil, b.err
			}
			if len(name) == 0 {
				break
			}
			dir := b.uleb()
			abs := pathIsAbs(name)
			if !abs && dir >= uint64(dirs) {
				return nil, errLineHeader
			}
			b.uleb() // modification time
			b.uleb() // length
			files = append(files, name)
			if j != nil {
				joined := string(name)
				if !abs {
					joined = pathJoin(j.dirs[dir], joined)
				}
				j.files = append(j.files, joined)
			}
		}
		return files, b.err
	}
	dirFormat := readLNCTFormat(b)
	dirs := b.uleb()
	if dirs > uint64(len(line)) {
		return nil, errLineHeader // debug/dwarf would allocate as many
	}
	if j != nil {
		j.dirs = make([]string, dirs)
	}
	for i := range dirs {
		name, dir, err := readLNCT(b, dirFormat, dwarf64, dirs, str, lineStr)
		if err != nil {
			return nil, err
		}
		if j != nil {
			j.dirs[i] = j.joinLNCT(name, dir)
		}
	}
	fileFormat := readLNCTFormat(b)
	n := b.uleb()
	if n > uint64(len(line)) {
		return nil, errLineHeader
	}
	files := make([][]byte, n)
	if j != nil {
		j.files = make([]string, n)
	}
	for i := range files {
		name, dir, err := readLNCT(b, fileFormat, dwarf64, dirs, str, lineStr)
		if err != nil {
			return nil, err
		}
		files[i] = name
		if j != nil {
			j.files[i] = j.joinLNCT(name, dir)
		}
	}
	return files, b.err
}

// joinLNCT joins the path of a DWARF 5 directory or file name entry to
// the directory its DW_LNCT_directory_index names (-1: none), as
// debug/dwarf does: only when both are non-empty. A directory entry may
// name a directory not read yet, which is empty then.
func (j *lineJoin) joinLNCT(name []byte, dir int64) string {
	p := string(name)
	if dir >= 0 && j.dirs[dir] != "" && p != "" {
		return pathJoin(j.dirs[dir], p)
	}
	return p
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
// returns its path, unjoined, as debug/dwarf's LineReader reads it (forms
// it does not know are read as nothing), and the directory index it
// gives, -1 when it gives none.
func readLNCT(b *lineBuf, format []lnctForm, dwarf64 bool, dirs uint64, str, lineStr []byte) (path []byte, dir int64, err error) {
	dir = -1
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
				return nil, -1, sb.err
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
				return nil, -1, errLineHeader
			}
			dir = int64(val)
		}
	}
	return path, dir, nil
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

// pathJoin joins a line table's directory and a relative file name as
// debug/dwarf does: path.Join for Unix-style directories; for DOS-style
// ones (a drive letter or a UNC share), a separator of the directory's
// kind, and the name's own drive when it names another.
func pathJoin(dirname, filename string) string {
	if len(dirname) == 0 {
		return filename
	}
	drive, dirname := splitDrive(dirname)
	if drive == "" {
		return path.Join(dirname, filename)
	}
	drive2, filename := splitDrive(filename)
	if drive2 != "" {
		if !strings.EqualFold(drive, drive2) {
			return drive2 + filename
		}
	}
	if !(strings.HasSuffix(dirname, "/") || strings.HasSuffix(dirname, `\`)) && dirname != "" {
		sep := `\`
		if strings.HasPrefix(dirname, "/") {
			sep = `/`
		}
		dirname += sep
	}
	return drive + dirname + filename
}

// splitDrive splits a DOS drive letter or UNC share point from p, if
// any, as debug/dwarf does: p == drive + rest.
func splitDrive(p string) (drive, rest string) {
	if len(p) >= 2 && p[1] == ':' {
		if c := p[0]; 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' {
			return p[:2], p[2:]
		}
	}
	if len(p) > 3 && (p[0] == '\\' || p[0] == '/') && (p[1] == '\\' || p[1] == '/') {
		np := strings.ReplaceAll(p, "/", `\`)
		slash1 := strings.IndexByte(np[2:], '\\') + 2
		if slash1 > 2 {
			slash2 := strings.IndexByte(np[slash1+1:], '\\') + slash1 + 1
			if slash2 > slash1 {
				return p[:slash2], p[slash2:]
			}
		}
	}
	return "", p
}
