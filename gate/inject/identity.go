//go:build linux && amd64

package inject

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// loaded is a library as mapped in the target.
type loaded struct {
	bias    uint64    // runtime address = bias + link-time address
	maps    []mapping // the mappings of the file
	path    string
	deleted bool
}

// errNotLoaded carries the reason a process does not map OLD; other is set
// when it maps another build of the library instead.
type errNotLoaded struct {
	reason string
	other  bool
}

func (e errNotLoaded) Error() string { return e.reason }

// mappedBuildID reads the build-id of the file behind m, through
// /proc/PID/map_files so that a deleted or replaced file is read as mapped.
func mappedBuildID(pid int, m mapping) (string, error) {
	f, err := os.Open(m.mapFile(pid))
	if err != nil {
		f, err = os.Open(fmt.Sprintf("/proc/%d/root%s", liveTID(pid), m.path))
		if err != nil || m.deleted {
			return "", fmt.Errorf("opening mapped file %s: %w", m.path, err)
		}
	}
	defer f.Close()
	ef, err := elf.NewFile(f)
	if err != nil {
		return "", fmt.Errorf("reading mapped file %s: %w", m.path, err)
	}
	return readBuildID(ef), nil
}

// fileKey identifies a mapped file.
type fileKey struct {
	major, minor uint32
	inode        uint64
	path         string
}

// groupFiles groups file-backed mappings by file, in address order.
func groupFiles(maps []mapping) (map[fileKey][]mapping, []fileKey) {
	files := map[fileKey][]mapping{}
	var order []fileKey
	for _, m := range maps {
		if m.inode == 0 || m.path == "" || strings.HasPrefix(m.path, "[") {
			continue
		}
		k := fileKey{m.major, m.minor, m.inode, m.path}
		if _, ok := files[k]; !ok {
			order = append(order, k)
		}
		files[k] = append(files[k], m)
	}
	return files, order
}

// findLoaded finds img in the process: by build-id, read from the mapped
// file itself (never from the path, which may now hold another build). When
// img has no build-id it matches by device and inode only, and never a
// deleted mapping. Candidates are the mappings of the same file (dev:inode),
// of a file with OLD's file name or SONAME, and every deleted mapping.
func findLoaded(pid int, maps []mapping, img *image) (loaded, error) {
	files, order := groupFiles(maps)
	base := filepath.Base(img.path)
	soname := base
	if s, err := img.file.DynString(elf.DT_SONAME); err == nil && len(s) == 1 {
		soname = s[0]
	}
	var found []loaded
	var other []string
	for _, k := range order {
		ms := files[k]
		sameFile := img.ino != 0 && uint64(k.inode) == img.ino && devMatches(img.dev, k.major, k.minor)
		name := filepath.Base(k.path)
		if !sameFile && name != base && name != soname && !ms[0].deleted {
			continue
		}
		match := false
		if img.buildID == "" {
			match = sameFile && !ms[0].deleted
		} else {
			id, err := mappedBuildID(pid, ms[0])
			if err != nil {
				if errors.Is(err, os.ErrNotExist) {
					continue
				}
				return loaded{}, err
			}
			match = id == img.buildID
			if !match && (name == base || name == soname) {
				other = append(other, fmt.Sprintf("%s (build-id %s)", k.path, orNone(id)))
			}
		}
		if match {
			l, err := loadedAt(img, ms)
			if err != nil {
				return loaded{}, err
			}
			found = append(found, l)
		}
	}
	switch {
	case len(found) == 1:
		return found[0], nil
	case len(found) > 1:
		return loaded{}, fmt.Errorf("OLD (build-id %s) is mapped %d times in the process", orNone(img.buildID), len(found))
	case len(other) > 0:
		return loaded{}, errNotLoaded{fmt.Sprintf("process maps %s, not OLD's build (build-id %s)", strings.Join(other, ", "), orNone(img.buildID)), true}
	}
	return loaded{}, errNotLoaded{fmt.Sprintf("process does not map %s (build-id %s)", base, orNone(img.buildID)), false}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// devMatches compares a stat device number with a maps major:minor.
func devMatches(dev uint64, major, minor uint32) bool {
	ma := uint32((dev>>8)&0xfff) | uint32((dev>>32)&^0xfff)
	mi := uint32(dev&0xff) | uint32((dev>>12)&^0xff)
	return ma == major && mi == minor
}

// loadedAt computes the load bias from the mapping of file offset 0.
func loadedAt(img *image, ms []mapping) (loaded, error) {
	for _, m := range ms {
		for _, p := range img.loads {
			if p.Off&^(pageSize-1) == m.offset && m.offset == 0 {
				return loaded{bias: m.start - p.Vaddr&^(pageSize-1), maps: ms, path: m.path, deleted: m.deleted}, nil
			}
		}
	}
	return loaded{}, fmt.Errorf("cannot find the load address of %s", img.path)
}

// libc is what the engine needs of the target's C library.
type libc struct {
	dlopen, dlerror, dlclose uint64
	mode                     uint64 // extra dlopen mode bits (__libc_dlopen_mode)
	syscallInsn              uint64 // address of a `syscall; ret` sequence
	restoreRT                uint64 // address of __restore_rt: `mov $15, %rax; syscall`
	text                     []mapping
	ldso                     []mapping
	locking                  []addrRange // see lockingFuncs
}

func (c libc) unsafeRIP(a uint64) bool {
	for _, m := range append(c.text, c.ldso...) {
		if m.exec() && m.contains(a) {
			return true
		}
	}
	return false
}

// findLibc locates dlopen, dlerror, dlclose and a syscall instruction in the
// target through its own mappings and the mapped files' ELF symbols: glibc
// 2.34+ exports dlopen from libc.so.6; older ones from libdl.so.2, with
// __libc_dlopen_mode in libc as the last resort.
// libcWanted is the set of the C library's functions findLibc looks up.
var libcWanted = func() map[string]bool {
	m := map[string]bool{"dlopen": true, "dlclose": true, "dlerror": true,
		"__libc_dlopen_mode": true, "__libc_dlclose": true}
	for _, n := range lockingFuncs {
		m[n] = true
	}
	return m
}()

func findLibc(pid int, maps []mapping) (libc, error) {
	files, order := groupFiles(maps)
	var c libc
	type lib struct {
		img *image
		l   loaded
	}
	open := func(k fileKey) (*lib, error) {
		ms := files[k]
		f, err := os.Open(ms[0].mapFile(pid))
		if err != nil {
			return nil, fmt.Errorf("opening %s: %w", k.path, err)
		}
		img, err := newLeanImage(k.path, f, libcWanted)
		if err != nil {
			f.Close()
			return nil, err
		}
		img.closer = f
		l, err := loadedAt(img, ms)
		if err != nil {
			img.close()
			return nil, err
		}
		return &lib{img, l}, nil
	}
	var libcLib, libdl *lib
	for _, k := range order {
		b := filepath.Base(k.path)
		switch {
		case strings.HasPrefix(b, "libc.so") || (strings.HasPrefix(b, "libc-") && strings.HasSuffix(b, ".so")):
			if libcLib == nil {
				l, err := open(k)
				if err != nil {
					return c, err
				}
				libcLib = l
			}
		case strings.HasPrefix(b, "libdl.so") || strings.HasPrefix(b, "libdl-"):
			if libdl == nil {
				if l, err := open(k); err == nil {
					libdl = l
				}
			}
		case strings.HasPrefix(b, "ld-linux") || strings.HasPrefix(b, "ld-2.") || b == "ld.so":
			c.ldso = files[k]
		}
	}
	if libcLib == nil {
		return c, errors.New("process does not map a glibc libc.so.6")
	}
	defer libcLib.img.close()
	if libdl != nil {
		defer libdl.img.close()
	}
	c.text = libcLib.l.maps
	c.locking = lockRanges(libcLib.img, libcLib.l.bias)
	addr := func(l *lib, name string) uint64 {
		if l == nil {
			return 0
		}
		if s, ok := l.img.lookupFunc(name); ok {
			return l.l.bias + s.value
		}
		return 0
	}
	c.dlopen, c.dlerror, c.dlclose = addr(libcLib, "dlopen"), addr(libcLib, "dlerror"), addr(libcLib, "dlclose")
	if c.dlopen == 0 {
		c.dlopen, c.dlerror, c.dlclose = addr(libdl, "dlopen"), addr(libdl, "dlerror"), addr(libdl, "dlclose")
	}
	if c.dlopen == 0 {
		c.dlopen, c.dlclose, c.dlerror = addr(libcLib, "__libc_dlopen_mode"), addr(libcLib, "__libc_dlclose"), 0
		c.mode = 0x80000000 // __RTLD_DLOPEN
	}
	if c.dlopen == 0 {
		return c, errors.New("cannot find dlopen in the process's C library")
	}
	// A `syscall; ret` sequence (0f 05 c3) and __restore_rt (48 c7 c0 0f 00
	// 00 00 0f 05) anywhere in libc's executable segment: the bytes decode
	// so wherever they are (see sigframe.go).
	// Read in chunks, until both are found (early in the text, usually).
	const chunk, overlap = 64 << 10, 16
	buf := make([]byte, chunk+overlap)
	for _, p := range libcLib.img.loads {
		if p.Flags&elf.PF_X == 0 {
			continue
		}
		for off := uint64(0); off < p.Filesz && (c.syscallInsn == 0 || c.restoreRT == 0); off += chunk {
			n := min(p.Filesz-off, chunk+overlap)
			b := buf[:n]
			if _, err := libcLib.img.ra.ReadAt(b, int64(p.Off+off)); err != nil {
				return c, fmt.Errorf("reading libc text: %w", err)
			}
			base := libcLib.l.bias + p.Vaddr + off
			if i := bytes.Index(b, []byte{0x0f, 0x05, 0xc3}); i >= 0 && c.syscallInsn == 0 {
				c.syscallInsn = base + uint64(i)
			}
			if i := bytes.Index(b, []byte{0x48, 0xc7, 0xc0, 0x0f, 0, 0, 0, 0x0f, 0x05}); i >= 0 && c.restoreRT == 0 {
				c.restoreRT = base + uint64(i)
			}
		}
	}
	if c.syscallInsn == 0 || c.restoreRT == 0 {
		return c, errors.New("no `syscall; ret` sequence or no __restore_rt in the process's C library")
	}
	return c, nil
}
