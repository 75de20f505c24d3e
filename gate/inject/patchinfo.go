package inject

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
)

// PatchInfoSection is the name of the ELF section that makes a shared
// object a patch object.
const PatchInfoSection = ".patchinfo"

// PatchInfo is the content of a patch object's .patchinfo section (JSON,
// schema 1; fields are added, never renamed): the one build of the library
// it patches, its version, and the functions it replaces. Applying a patch
// object redirects only those functions, and only in processes that map
// that build.
type PatchInfo struct {
	Schema int `json:"schema"`
	// TargetBuildID is the GNU build-id (hex) of the library patched.
	TargetBuildID string `json:"target_build_id"`
	// Version names the patch, e.g. "1.2.3-p2".
	Version string `json:"version"`
	// Functions are the exported functions the patch replaces.
	Functions []string `json:"functions"`
}

// validate checks that every field is set.
func (p *PatchInfo) validate() error {
	switch {
	case p.Schema != 1:
		return fmt.Errorf("unknown .patchinfo schema %d", p.Schema)
	case p.TargetBuildID == "":
		return errors.New(".patchinfo has no target build-id")
	case p.Version == "":
		return errors.New(".patchinfo has no version")
	case len(p.Functions) == 0:
		return errors.New(".patchinfo lists no function")
	}
	return nil
}

// ReadPatchInfo returns the .patchinfo of the shared object at path, or nil
// when it has none.
func ReadPatchInfo(path string) (*PatchInfo, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	defer f.Close()
	return patchInfoOf(f, path)
}

func patchInfoOf(f *elf.File, path string) (*PatchInfo, error) {
	s := f.Section(PatchInfoSection)
	if s == nil {
		return nil, nil
	}
	data, err := s.Data()
	if err != nil {
		return nil, fmt.Errorf("reading %s of %s: %w", PatchInfoSection, path, err)
	}
	var p PatchInfo
	if err := json.Unmarshal(bytes.TrimRight(data, "\x00"), &p); err != nil {
		return nil, fmt.Errorf("decoding %s of %s: %w", PatchInfoSection, path, err)
	}
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &p, nil
}

// BuildID returns the GNU build-id (hex) of the ELF file at path.
func BuildID(path string) (string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type != elf.PT_NOTE {
			continue
		}
		data := make([]byte, p.Filesz)
		if _, err := p.ReadAt(data, 0); err != nil {
			return "", fmt.Errorf("reading notes of %s: %w", path, err)
		}
		for len(data) >= 12 {
			nsz, dsz, typ := binary.LittleEndian.Uint32(data), binary.LittleEndian.Uint32(data[4:]), binary.LittleEndian.Uint32(data[8:])
			name := (12 + int(nsz) + 3) &^ 3
			end := name + (int(dsz)+3)&^3
			if end > len(data) || name > len(data) {
				break
			}
			if typ == 3 && nsz == 4 && string(data[12:15]) == "GNU" { // NT_GNU_BUILD_ID
				return fmt.Sprintf("%x", data[name:name+int(dsz)]), nil
			}
			data = data[end:]
		}
	}
	return "", fmt.Errorf("%s has no GNU build-id", path)
}

// WritePatchInfo writes p as the .patchinfo section of the 64-bit
// little-endian ELF shared object at path, replacing any such section. The
// section is not loaded (no SHF_ALLOC): the file's loadable contents stay
// byte for byte what the linker made, but for the ELF header's fields
// locating the section headers, which the loader ignores. Its data, a new
// section-name table and a new section header table are appended to the
// file; the file is replaced atomically.
func WritePatchInfo(path string, p PatchInfo) error {
	p.Schema = 1
	if err := p.validate(); err != nil {
		return err
	}
	content, err := json.Marshal(p)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, err := withSection(data, PatchInfoSection, append(content, 0))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	tmp := path + ".patchinfo-tmp"
	if err := os.WriteFile(tmp, out, st.Mode().Perm()); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// withSection returns the ELF image data with a non-allocated section name
// holding content, added or replacing one of that name.
func withSection(data []byte, name string, content []byte) ([]byte, error) {
	if len(data) < 64 || string(data[:4]) != "\x7fELF" || data[4] != 2 || data[5] != 1 {
		return nil, errors.New("not a 64-bit little-endian ELF file")
	}
	le := binary.LittleEndian
	shoff, shentsize := le.Uint64(data[0x28:]), int(le.Uint16(data[0x3a:]))
	shnum, shstrndx := int(le.Uint16(data[0x3c:])), int(le.Uint16(data[0x3e:]))
	if shentsize != 64 || shnum == 0 || shstrndx >= shnum || shoff+uint64(shnum*64) > uint64(len(data)) {
		return nil, errors.New("no usable section header table")
	}
	headers := append([]byte(nil), data[shoff:shoff+uint64(shnum*64)]...)
	hdr := func(i int) []byte { return headers[i*64 : (i+1)*64] }
	strs := hdr(shstrndx)
	stroff, strsize := le.Uint64(strs[0x18:]), le.Uint64(strs[0x20:])
	if stroff+strsize > uint64(len(data)) {
		return nil, errors.New("section name table out of the file")
	}
	names := append([]byte(nil), data[stroff:stroff+strsize]...)
	nameOf := func(i int) string {
		off := int(le.Uint32(hdr(i)))
		if off >= len(names) {
			return ""
		}
		end := bytes.IndexByte(names[off:], 0)
		if end < 0 {
			return ""
		}
		return string(names[off : off+end])
	}
	idx := -1
	for i := 0; i < shnum; i++ {
		if nameOf(i) == name {
			idx = i
		}
	}
	out := append([]byte(nil), data...)
	align := func(n int) {
		for len(out)%n != 0 {
			out = append(out, 0)
		}
	}
	if idx < 0 {
		nameOff := len(names)
		names = append(append(names, name...), 0)
		h := make([]byte, 64)
		le.PutUint32(h[0:], uint32(nameOff))
		le.PutUint32(h[4:], uint32(elf.SHT_PROGBITS))
		le.PutUint64(h[0x30:], 1) // sh_addralign
		headers = append(headers, h...)
		idx = shnum
		shnum++
	}
	// The section's data, then the names, then the headers.
	align(8)
	h := hdr(idx)
	le.PutUint64(h[0x08:], 0) // sh_flags: not allocated
	le.PutUint64(h[0x10:], 0) // sh_addr
	le.PutUint64(h[0x18:], uint64(len(out)))
	le.PutUint64(h[0x20:], uint64(len(content)))
	out = append(out, content...)
	strs = hdr(shstrndx)
	le.PutUint64(strs[0x18:], uint64(len(out)))
	le.PutUint64(strs[0x20:], uint64(len(names)))
	out = append(out, names...)
	align(8)
	le.PutUint64(out[0x28:], uint64(len(out)))
	le.PutUint16(out[0x3c:], uint16(shnum))
	out = append(out, headers...)
	if _, err := elf.NewFile(bytes.NewReader(out)); err != nil {
		return nil, fmt.Errorf("internal error: the rewritten ELF file does not parse: %w", err)
	}
	if strings.Contains(name, "\x00") {
		return nil, errors.New("bad section name")
	}
	return out, nil
}
