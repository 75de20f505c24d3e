//go:build linux && amd64

package inject

import (
	"debug/elf"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// loaderSections are writable sections that hold the dynamic linker's and
// the C runtime's bookkeeping, not library state.
var loaderSections = map[string]bool{
	".got": true, ".got.plt": true, ".dynamic": true, ".init_array": true,
	".fini_array": true, ".preinit_array": true, ".tm_clone_table": true, ".jcr": true,
}

// crtObject reports whether a local object is one the C runtime start files
// put in every shared object (its value never matters across an upgrade).
func crtObject(name string) bool {
	// DW.ref.<personality> is the C++ exception-handling personality
	// pointer: set by a relocation when the library is loaded and never
	// written after, so a fresh copy is as good as the process's.
	return name == "__dso_handle" || name == "__TMC_END__" || strings.HasPrefix(name, "completed.") ||
		strings.HasPrefix(name, "DW.ref.")
}

// refuseData applies the engine's rule on writable state, which is
// deliberately conservative. NEW's functions will run on OLD's data: its
// exported variables bind to OLD's storage through interposition (checked
// in the process by checkInterposition), so NEW may only have writable
// state that is (a) an exported object OLD also exports with the same size,
// or (b) C-runtime bookkeeping. Anything else is state NEW's code would find
// freshly initialised instead of carrying the process's history, which the
// gate cannot vouch for:
//   - thread-local storage (fresh per thread, and not interposable the same way);
//   - exported variables that OLD lacks or whose size changed;
//   - with a symbol table: any local or hidden object in a writable section;
//   - without one (stripped NEW): more than 16 bytes of writable data not
//     covered by shared exported objects (the C runtime needs 9);
//   - -Bsymbolic or protected exported data, and exported data NEW's code
//     reaches without a dynamic relocation (bound locally, not through GOT).
func refuseData(oldImg, newImg *image) error {
	if newImg.symbolic() {
		return errors.New("NEW is linked with -Bsymbolic: its exported data would not bind to OLD's")
	}
	// NEW's relocations, decoded once when first needed (none when they
	// cannot be read).
	relocs := sync.OnceValue(func() []reloc {
		rs, _ := newImg.relocs()
		return rs
	})
	shared := map[uint64]uint64{} // address -> size of shared exported objects
	for _, o := range newImg.objects {
		if o.typ == elf.STT_TLS {
			return fmt.Errorf("NEW exports thread-local variable %s", o.key())
		}
		old, ok := lookup(oldImg.objects, o.key())
		if !ok {
			return fmt.Errorf("NEW adds exported variable %s: new state with no history in the process", o.key())
		}
		if old.size != o.size {
			return fmt.Errorf("exported variable %s changes size from %d to %d bytes", o.key(), old.size, o.size)
		}
		if o.vis == elf.STV_PROTECTED {
			return fmt.Errorf("exported variable %s has protected visibility in NEW: NEW's code binds to its own copy", o.key())
		}
		if !hasDataReloc(relocs(), o) {
			return fmt.Errorf("NEW's code reaches exported variable %s without a dynamic relocation: it would use its own copy", o.key())
		}
		shared[o.value] = o.size
	}
	type span struct {
		name       string
		start, end uint64
	}
	var state []span
	for _, s := range newImg.file.Sections {
		if s.Flags&elf.SHF_ALLOC == 0 || s.Flags&elf.SHF_WRITE == 0 || s.Size == 0 {
			continue
		}
		if s.Flags&elf.SHF_TLS != 0 {
			return fmt.Errorf("NEW has thread-local storage (%s)", s.Name)
		}
		if loaderSections[s.Name] || (s.Addr >= newImg.relro[0] && s.Addr+s.Size <= newImg.relro[1]) {
			continue // loader bookkeeping, or read-only after relocation
		}
		state = append(state, span{s.Name, s.Addr, s.Addr + s.Size})
	}
	inState := func(a uint64) (string, bool) {
		for _, sp := range state {
			if a >= sp.start && a < sp.end {
				return sp.name, true
			}
		}
		return "", false
	}
	syms, err := newImg.file.Symbols()
	if err == nil {
		var private []string
		for _, s := range syms {
			if elf.ST_TYPE(s.Info) != elf.STT_OBJECT || s.Size == 0 || s.Section == elf.SHN_UNDEF {
				continue
			}
			sec, ok := inState(s.Value)
			if !ok || crtObject(s.Name) {
				continue
			}
			if _, ok := shared[s.Value]; ok && elf.ST_BIND(s.Info) != elf.STB_LOCAL {
				continue
			}
			private = append(private, fmt.Sprintf("%s (%d bytes in %s)", s.Name, s.Size, sec))
		}
		if len(private) > 0 {
			sort.Strings(private)
			return fmt.Errorf("NEW has library-private writable state: %s", strings.Join(private, ", "))
		}
		return nil
	}
	// Stripped: count the writable bytes no shared exported object covers,
	// but for alignment padding before one.
	var private uint64
	for _, sp := range state {
		private += uncovered(newImg, relocs(), sp.start, sp.end, shared)
	}
	if private > 16 {
		return fmt.Errorf("NEW (stripped) has %d bytes of writable data not reachable through its exported symbols", private)
	}
	return nil
}

// uncovered returns the number of bytes in [start, end) of img that no
// object of shared (address -> size) covers, not counting alignment
// padding: the zero bytes (in the file, and set by none of img's dynamic
// relocations rs)
// that end a gap at a shared object's address, fewer than that address's
// alignment (libbz2's BZ2_crc32Table, aligned to 32 bytes, follows the
// 8-byte __dso_handle after 24 bytes of padding).
func uncovered(img *image, rs []reloc, start, end uint64, shared map[uint64]uint64) uint64 {
	relocated := map[uint64]bool{}
	for _, r := range rs {
		if r.off+8 > start && r.off < end {
			for i := uint64(0); i < 8; i++ {
				relocated[r.off+i] = true
			}
		}
	}
	var total uint64
	for a := start; a < end; {
		if n, ok := shared[a]; ok && n > 0 {
			a += n
			continue
		}
		next := end // the next shared object's address
		for b := range shared {
			if b > a && b < next {
				next = b
			}
		}
		gap := next - a
		if next < end {
			b := make([]byte, gap)
			if img.readVA(b, a) == nil {
				pad := uint64(0)
				for pad < gap && b[gap-1-pad] == 0 && !relocated[next-1-pad] {
					pad++
				}
				if pad < next&-next {
					gap -= pad
				}
			}
		}
		total += gap
		a = next
	}
	return total
}

// hasDataReloc reports whether NEW's dynamic relocations rs hold one
// against o, i.e. its code reaches o through the GOT (or a data pointer)
// and so binds to the first definition in the global scope.
func hasDataReloc(rs []reloc, o symbol) bool {
	for _, r := range rs {
		if r.sym == o.index && (r.typ == elf.R_X86_64_GLOB_DAT || r.typ == elf.R_X86_64_64) {
			return true
		}
	}
	return false
}
