//go:build linux && amd64

package inject

import (
	"bytes"
	"errors"
	"fmt"

	"golang.org/x/arch/x86/x86asm"
)

var endbr64 = []byte{0xf3, 0x0f, 0x1e, 0xfa}

const jmpLen = 5 // e9 rel32

// site is the patch site of one exported function of OLD, in link-time
// addresses of OLD.
type site struct {
	names []string // the OLD symbols at this entry (aliases share one site)
	entry uint64
	at    uint64  // entry, or entry+4 after an endbr64 that stays in place
	orig  [8]byte // OLD's file bytes at at..at+7
	dest  uint64  // link-time address of the NEW function
	// overEndbr is true when the jump may instead be written at the entry,
	// over the endbr64, in one word (see patch): used only when no
	// trampoline page fits the window that keeping endbr64 requires, and
	// only in a process without user-space IBT.
	overEndbr bool
	// viaGOT is set for a function whose entry cannot take a jump: it is
	// redirected through the GOTs of the objects that import it (got.go).
	viaGOT bool
}

// planSites checks every exported function of OLD and pairs it with NEW's
// function of the same name and version. Any problem refuses the upgrade.
//
// only, when not nil, limits the redirection to the functions it names
// (a patch object's list); each must exist in both.
func planSites(oldImg, newImg *image, only map[string]bool) ([]site, error) {
	if len(oldImg.ifuncs) > 0 {
		return nil, fmt.Errorf("OLD exports indirect function %s (STT_GNU_IFUNC): not redirectable", oldImg.ifuncs[0].key())
	}
	targets, err := branchTargets(oldImg)
	if err != nil {
		return nil, err
	}
	byEntry := map[uint64]*site{}
	var order []uint64
	for name := range only {
		if !hasFunc(oldImg, name) {
			return nil, fmt.Errorf("the patch replaces %s, which OLD does not export", name)
		}
	}
	for _, f := range oldImg.funcs {
		if only != nil && !only[f.name] && !only[f.key()] {
			continue
		}
		nf, ok := lookup(newImg.funcs, f.key())
		if !ok {
			return nil, fmt.Errorf("NEW does not export function %s", f.key())
		}
		if s, ok := byEntry[f.value]; ok {
			if s.dest != nf.value {
				return nil, fmt.Errorf("aliases %s and %s of OLD map to different functions in NEW", s.names[0], f.key())
			}
			s.names = append(s.names, f.key())
			continue
		}
		at, err := checkEntry(oldImg, f, targets)
		if errors.Is(err, errCannotRedirect) {
			byEntry[f.value] = &site{names: []string{f.key()}, entry: f.value, dest: nf.value, viaGOT: true}
			order = append(order, f.value)
			continue
		}
		if err != nil {
			return nil, err
		}
		s := &site{names: []string{f.key()}, entry: f.value, at: at, dest: nf.value}
		if at == f.value+4 && f.value%8 <= 8-jmpLen {
			s.overEndbr = true
			for a := f.value + 1; a < f.value+jmpLen; a++ {
				if targets[a] {
					s.overEndbr = false
				}
			}
		}
		if err := oldImg.readVA(s.orig[:], at); err != nil {
			return nil, fmt.Errorf("reading entry of %s: %w", f.key(), err)
		}
		byEntry[f.value] = s
		order = append(order, f.value)
	}
	sites := make([]site, 0, len(order))
	for _, e := range order {
		sites = append(sites, *byEntry[e])
	}
	return sites, nil
}

// checkEntry verifies that a 5-byte jmp can replace the start of function f
// (after its endbr64, which is kept so that indirect calls stay valid under
// IBT): the function is long enough, decodes cleanly with x86asm, and no
// relative branch anywhere in OLD's text lands inside the overwritten bytes
// (after the first). It returns the patch address.
func checkEntry(img *image, f symbol, targets map[uint64]bool) (uint64, error) {
	if f.size == 0 {
		return 0, fmt.Errorf("function %s has no size in OLD's symbol table", f.key())
	}
	if f.size > 1<<24 {
		return 0, fmt.Errorf("function %s has an implausible size %d", f.key(), f.size)
	}
	code := make([]byte, f.size)
	if err := img.readVA(code, f.value); err != nil {
		return 0, fmt.Errorf("reading function %s: %w", f.key(), err)
	}
	at := uint64(0)
	if bytes.HasPrefix(code, endbr64) {
		at = 4
	}
	if f.size < at+jmpLen {
		return 0, fmt.Errorf("function %s is %d bytes long: %w: too short for a %d-byte jump after its entry", f.key(), f.size, errCannotRedirect, jmpLen)
	}
	for off := uint64(0); off < f.size; {
		n, _, err := decode(code[off:])
		if err != nil {
			return 0, fmt.Errorf("function %s: cannot decode the instruction at +%#x: %v", f.key(), off, err)
		}
		off += uint64(n)
	}
	for a := f.value + at + 1; a < f.value+at+jmpLen; a++ {
		if targets[a] {
			return 0, fmt.Errorf("function %s: %w: a branch targets byte +%#x, inside the bytes a jump would overwrite", f.key(), errCannotRedirect, a-f.value)
		}
	}
	return f.value + at, nil
}

// branchTargets returns the targets of every relative jump and call in the
// image's executable sections (a linear sweep; undecodable bytes are
// skipped), computed once per image: both the site planner and the search
// for padding need them.
func branchTargets(img *image) (map[uint64]bool, error) {
	if img.targets != nil {
		return img.targets, nil
	}
	text, err := img.text()
	if err != nil {
		return nil, err
	}
	targets := map[uint64]bool{}
	for _, s := range text {
		for off := 0; off < len(s.code); {
			n, inst, err := decode(s.code[off:])
			if err != nil {
				off++
				continue
			}
			for _, a := range inst.Args {
				if rel, ok := a.(x86asm.Rel); ok {
					targets[uint64(int64(s.addr)+int64(off)+int64(n)+int64(rel))] = true
				}
			}
			off += n
		}
	}
	img.targets = targets
	return targets, nil
}

// looksLikeReturn reports whether the bytes before address a (given as the
// 8 bytes ending at a) end with a call instruction: a is then a plausible
// return address.
func looksLikeReturn(before [8]byte) bool {
	for k := 2; k <= 7; k++ {
		inst, err := x86asm.Decode(before[8-k:], 64)
		if err == nil && inst.Len == k && inst.Op == x86asm.CALL {
			return true
		}
	}
	return false
}

// decode decodes one instruction. x86asm does not know the CET
// instructions endbr64/endbr32 (f3 0f 1e fa/fb), which are hint NOPs: they
// are recognised here.
func decode(code []byte) (int, x86asm.Inst, error) {
	if len(code) >= 4 && code[0] == 0xf3 && code[1] == 0x0f && code[2] == 0x1e && (code[3] == 0xfa || code[3] == 0xfb) {
		return 4, x86asm.Inst{Op: x86asm.NOP, Len: 4}, nil
	}
	inst, err := x86asm.Decode(code, 64)
	if err == nil && inst.Len == 0 {
		err = fmt.Errorf("empty instruction")
	}
	return inst.Len, inst, err
}

// hasFunc reports whether img exports function name (plain or name@version).
func hasFunc(img *image, name string) bool {
	for _, f := range img.funcs {
		if f.name == name || f.key() == name {
			return true
		}
	}
	return false
}
