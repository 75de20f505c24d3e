package dwarfdec

// This file reads the DWARF sections the checker needs, decompressing them
// in parallel, instead of elf.File.DWARF, which inflates every .debug_*
// section one after the other (location lists and call frames too) into
// buffers grown 10 MB at a time.

import (
	"bytes"
	"compress/zlib"
	"debug/dwarf"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"sync"
)

// Sections are the contents of the DWARF sections of one file, as
// the checker reads them; absent sections are nil. They live outside the
// Go heap, mapped from the file (see filemap.go) or in buffers of their
// own (see offHeap), until release: nothing decoded from them may keep a
// slice of them.
type Sections struct {
	Order binary.ByteOrder
	// Info holds every unit: the file's .debug_info, then its DWARF 4
	// .debug_types sections, then the .debug_info of its supplementary
	// file (dwz -m, DWARF 5 .debug_sup), one offset space for all, so
	// that references between them are plain offsets.
	Info                             []byte
	abbrev, Str, LineStr, strOffsets []byte
	addr, Line, ranges, rnglists     []byte
	types                            [][]byte // DWARF 4 .debug_types, one per section, within Info
	segs                             []segment
	sup                              *Sections    // the supplementary file's sections, or nil
	supBase                          uint64       // where sup's .debug_info starts in Info
	langs                            *importLangs // set by layout
	releases                         []func()
	infoReleases                     []func() // of the buffers of .debug_info and .debug_types
	// When Info maps the file: the eviction of its pages (see Evict),
	// the file, and Info's offset in it.
	infoEvict   func(start, end uint64) uint64
	infoFile    io.ReaderAt
	infoFileOff uint64
}

// release frees the sections' memory. The sections must not be used
// after.
func (sec *Sections) release() {
	for _, f := range sec.releases {
		f()
	}
	sec.dropInfo()
	if sec.sup != nil {
		sec.sup.release()
	}
	*sec = Sections{}
}

// heapBuffer returns n bytes on the Go heap, and a release that leaves
// them to the garbage collector.
func heapBuffer(n uint64) ([]byte, func()) { return make([]byte, n), func() {} }

// slot returns where the section with the given suffix (after .debug_ or
// .zdebug_) goes, or nil for a section the checker never reads: location
// lists, call frames, address ranges of units, name indexes, macros.
func (sec *Sections) slot(suffix string) *[]byte {
	switch suffix {
	case "info":
		return &sec.Info
	case "abbrev":
		return &sec.abbrev
	case "str":
		return &sec.Str
	case "line_str":
		return &sec.LineStr
	case "str_offsets":
		return &sec.strOffsets
	case "addr":
		return &sec.addr
	case "line":
		return &sec.Line
	case "ranges":
		return &sec.ranges
	case "rnglists":
		return &sec.rnglists
	}
	return nil
}

// dwarfSuffix returns what follows .debug_ or .zdebug_ in a section name,
// or "".
func dwarfSuffix(name string) string {
	for _, p := range []string{".debug_", ".zdebug_"} {
		if s, ok := strings.CutPrefix(name, p); ok {
			return s
		}
	}
	return ""
}

// unitsSize returns the size of the sections of ef that hold units
// (.debug_info, .debug_types) once read, whether there are .debug_types
// sections, and false when the size is not known before they are read
// (.zdebug_ sections).
func unitsSize(ef *elf.File) (n uint64, types, ok bool) {
	for _, s := range ef.Sections {
		if suffix := dwarfSuffix(s.Name); (suffix == "info" || suffix == "types") && s.Type != elf.SHT_NOBITS {
			if !strings.HasPrefix(s.Name, ".debug_") {
				return 0, false, false
			}
			n += s.Size
			types = types || suffix == "types"
		}
	}
	return n, types, true
}

// readDWARFSections reads the DWARF sections of ef, whose bytes r holds,
// decompressing them in parallel. When units is not nil, it has the size
// unitsSize gives, and .debug_info and the .debug_types sections are read
// into it one after the other, in that order.
func readDWARFSections(ef *elf.File, r io.ReaderAt, units []byte) (*Sections, error) {
	sec := &Sections{Order: ef.ByteOrder}
	type job struct {
		s       *elf.Section
		dst     *[]byte
		isTypes bool
		into    []byte
	}
	var jobs []job
	for _, s := range ef.Sections {
		suffix := dwarfSuffix(s.Name)
		if suffix == "" || s.Type == elf.SHT_NOBITS {
			continue
		}
		if suffix == "types" {
			sec.types = append(sec.types, nil)
			jobs = append(jobs, job{s, nil, true, nil})
			continue
		}
		if dst := sec.slot(suffix); dst != nil {
			jobs = append(jobs, job{s, dst, false, nil})
		}
	}
	// .debug_types entries are filled in order after the others.
	types := 0
	for i := range jobs {
		if jobs[i].dst == nil {
			jobs[i].dst = &sec.types[types]
			types++
		}
	}
	if units != nil {
		pos := uint64(0)
		for _, isTypes := range []bool{false, true} {
			for i := range jobs {
				if j := &jobs[i]; j.isTypes == isTypes && (isTypes || j.dst == &sec.Info) {
					end := min(pos+j.s.Size, uint64(len(units)))
					j.into, pos = units[pos:end:end], end
				}
			}
		}
	}
	plain := ef.Class == elf.ELFCLASS64 && ef.ByteOrder == binary.ByteOrder(binary.LittleEndian)
	errs := make([]error, len(jobs))
	releases := make([]func(), len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Go(func() {
			if j.into == nil {
				if m, ok := mapSection(j.s, r); ok {
					*j.dst, releases[i] = m.data, m.unmap
					if j.dst == &sec.Info {
						sec.infoEvict, sec.infoFile, sec.infoFileOff = m.evict, m.file, m.off
					}
					return
				}
			}
			data, release, err := sectionBytes(j.s, r, plain, j.into)
			if err != nil {
				errs[i] = fmt.Errorf("reading %s: %w", j.s.Name, err)
				return
			}
			*j.dst, releases[i] = data, release
		})
	}
	wg.Wait()
	for i, f := range releases {
		switch {
		case f == nil:
		case jobs[i].dst == &sec.Info || jobs[i].isTypes:
			sec.infoReleases = append(sec.infoReleases, f)
		default:
			sec.releases = append(sec.releases, f)
		}
	}
	for _, err := range errs {
		if err != nil {
			sec.release()
			return nil, err
		}
	}
	return sec, nil
}

// dwarfData returns the debug/dwarf view of the sections with the units
// of info, and of the .debug_types sections when types is set.
func (sec *Sections) dwarfData(info []byte, types bool) (*dwarf.Data, error) {
	d, err := dwarf.New(sec.abbrev, nil, nil, info, sec.Line, nil, sec.ranges, sec.Str)
	if err != nil {
		return nil, err
	}
	for i, t := range sec.types {
		if !types {
			break
		}
		if err := d.AddTypes(fmt.Sprintf("types-%d", i), t); err != nil {
			return nil, err
		}
	}
	for _, s := range []struct {
		name string
		data []byte
	}{
		{".debug_addr", sec.addr}, {".debug_line_str", sec.LineStr},
		{".debug_rnglists", sec.rnglists}, {".debug_str_offsets", sec.strOffsets},
	} {
		if len(s.data) > 0 {
			if err := d.AddSection(s.name, s.data); err != nil {
				return nil, err
			}
		}
	}
	return d, nil
}

// maxInflateRatio bounds the size a compressed section may claim, as a
// multiple of its compressed size, before its buffer is allocated in one
// piece; a larger claim is believed only as far as the data goes. DWARF
// compresses 3 to 6 times.
const maxInflateRatio = 16

// sectionBytes returns the contents of s and the function that frees
// them. Plain sections are read, and zlib-compressed sections
// (SHF_COMPRESSED) of a little-endian 64-bit file (elf64LE) inflated, into
// a buffer allocated once, at its final size, outside the Go heap. Other
// encodings go through debug/elf.
func sectionBytes(s *elf.Section, r io.ReaderAt, elf64LE bool, into []byte) ([]byte, func(), error) {
	out, release, err := readSection(s, r, elf64LE, into)
	if err != nil || into == nil || (len(out) > 0 && len(into) > 0 && &out[0] == &into[0] && len(out) == len(into)) {
		return out, release, err
	}
	defer release()
	if len(out) != len(into) {
		return nil, nil, fmt.Errorf("section is %d bytes, not the %d its header says", len(out), len(into))
	}
	copy(into, out)
	return into, func() {}, nil
}

// readSection is sectionBytes; it reads into into when it has the right
// size and the encoding allows, and elsewhere otherwise.
func readSection(s *elf.Section, r io.ReaderAt, elf64LE bool, into []byte) ([]byte, func(), error) {
	const chdr64Size = 24
	buffer := func(n uint64) ([]byte, func()) {
		if into != nil && uint64(len(into)) == n {
			return into, func() {}
		}
		return offHeap(n)
	}
	if s.Flags&elf.SHF_COMPRESSED == 0 {
		if s.Size == 0 || !strings.HasPrefix(s.Name, ".debug_") {
			return fromHeap(s.Data()) // .zdebug_ sections: debug/elf inflates them
		}
		// The last byte must be in the file before the buffer is sized.
		var last [1]byte
		if _, err := s.ReadAt(last[:], int64(s.Size-1)); err != nil {
			return nil, nil, fmt.Errorf("section runs past the end of the file: %w", err)
		}
		out, release := buffer(s.Size)
		if _, err := s.ReadAt(out, 0); err != nil {
			release()
			return nil, nil, err
		}
		return out, release, nil
	}
	if !elf64LE || r == nil || s.FileSize < chdr64Size {
		return fromHeap(s.Data())
	}
	var hdr [chdr64Size]byte
	if _, err := r.ReadAt(hdr[:], int64(s.Offset)); err != nil {
		return nil, nil, err
	}
	// s.Size is the inflated size debug/elf read from the same header.
	if elf.CompressionType(binary.LittleEndian.Uint32(hdr[:])) != elf.COMPRESS_ZLIB ||
		binary.LittleEndian.Uint64(hdr[8:]) != s.Size {
		return fromHeap(s.Data()) // zstd: debug/elf knows it
	}
	raw := io.NewSectionReader(r, int64(s.Offset)+chdr64Size, int64(s.FileSize)-chdr64Size)
	zr, err := zlib.NewReader(raw)
	if err != nil {
		return nil, nil, err
	}
	defer zr.Close()
	if s.Size/maxInflateRatio > s.FileSize {
		var b bytes.Buffer
		if _, err := io.Copy(&b, io.LimitReader(zr, int64(s.Size))); err != nil {
			return nil, nil, err
		}
		if uint64(b.Len()) != s.Size {
			return nil, nil, io.ErrUnexpectedEOF
		}
		return b.Bytes(), func() {}, nil
	}
	out, release := buffer(s.Size)
	if _, err := io.ReadFull(zr, out); err != nil {
		release()
		return nil, nil, err
	}
	return out, release, nil
}

// fromHeap adapts a heap result of debug/elf to sectionBytes.
func fromHeap(b []byte, err error) ([]byte, func(), error) {
	if err != nil {
		return nil, nil, err
	}
	return b, func() {}, nil
}
