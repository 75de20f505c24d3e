//go:build linux && amd64

package inject

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Redirection through the GOT, for a function whose entry cannot take a
// jump (shorter than one, a branch into its first bytes, no room for a
// trampoline or padding): every other loaded object reaches an imported
// function through its GOT (R_X86_64_JUMP_SLOT, R_X86_64_GLOB_DAT) or a
// data pointer (R_X86_64_64) the dynamic linker filled with OLD's address;
// those words are rewritten to NEW's function, journaled and reverted as
// the words of the entries are.
//
// Calls that still reach OLD's function then, and why that is safe:
//   - calls from OLD's own code (bound inside OLD, or through OLD's own
//     GOT, deliberately left alone so that OLD's code stays as it was);
//   - function pointers taken before the switch (a callback registered
//     with OLD, a pointer read from a GOT before it was rewritten);
//   - objects loaded after the switch, and dlsym, which find OLD first.
//
// Under the gate's hot-applicability rule the two builds share every
// private layout and NEW has no private writable state: OLD's function
// works on the same objects as NEW's, with the same meaning, so a call
// reaching either one gives a right result. The engine takes the same view
// of threads draining from OLD (see Options.Drain).

// gotSlot is one word of an importing object that holds the address of a
// redirected function.
type gotSlot struct {
	addr uint64 // run-time address of the word
	old  uint64 // its value now
	new  uint64 // NEW's function
	name string
}

// gotSlots finds, in every loaded object but OLD and NEW (whose mappings
// hold newBias), the words that hold the address of one of the functions
// of sites (by OLD's key, name@version) and plans to point them at NEW's
// function. A lazily bound R_X86_64_JUMP_SLOT not resolved yet (it still
// points into its own object's PLT) is rewritten too, so that the first
// call does not bind it to OLD.
//
// prev holds, by address, the words an upgrade being stacked upon wrote:
// such a word holds that upgrade's function, not OLD's.
func (o *op) gotSlots(maps []mapping, sites []site, newBias uint64, prev map[uint64]hexWord) ([]gotSlot, error) {
	if len(sites) == 0 {
		return nil, nil
	}
	byName := map[string][]gotTarget{}
	for _, s := range sites {
		for _, k := range s.names {
			name, _, _ := strings.Cut(k, "@")
			byName[name] = append(byName[name], gotTarget{o.old.bias + s.entry, newBias + s.dest, k})
		}
	}
	files, order := groupFiles(maps)
	var out []gotSlot
	for _, k := range order {
		ms := files[k]
		if o.isOld(ms) || ms[0].contains(newBias) || mappingsHold(ms, newBias) {
			continue
		}
		slots, err := importSlots(o.pid, ms, byName, prev)
		if err != nil {
			return nil, err
		}
		out = append(out, slots...)
	}
	return out, nil
}

// isOld reports whether mappings ms are OLD's.
func (o *op) isOld(ms []mapping) bool {
	for _, m := range o.old.maps {
		if m.inode == ms[0].inode && m.major == ms[0].major && m.minor == ms[0].minor {
			return true
		}
	}
	return false
}

// mappingsHold reports whether one of ms contains a.
func mappingsHold(ms []mapping, a uint64) bool {
	for _, m := range ms {
		if m.contains(a) {
			return true
		}
	}
	return false
}

// gotTarget is a function to redirect through GOTs: OLD's and NEW's
// addresses and OLD's key.
type gotTarget struct {
	old, new uint64
	key      string
}

// importSlots reads the object mapped as ms (through map_files) and returns
// its words holding one of the functions of byName (by name; the version
// must match when both sides have one), or prev's word at their address.
func importSlots(pid int, ms []mapping, byName map[string][]gotTarget, prev map[uint64]hexWord) ([]gotSlot, error) {
	f, err := os.Open(ms[0].mapFile(pid))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil // unloaded meanwhile (dlclose): nothing to redirect
	}
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", ms[0].path, err)
	}
	defer f.Close()
	ef, err := elf.NewFile(f)
	if err != nil || ef.Class != elf.ELFCLASS64 || ef.Machine != elf.EM_X86_64 {
		return nil, nil // not an x86-64 ELF object: nothing imported
	}
	syms, err := ef.DynamicSymbols()
	if err != nil {
		return nil, nil
	}
	img := &image{path: ms[0].path, file: ef}
	bias := uint64(0)
	if ef.Type == elf.ET_DYN {
		img.loads, _ = segments(ef)
		l, err := loadedAt(img, ms)
		if err != nil {
			return nil, nil
		}
		bias = l.bias
	}
	mem, err := os.Open(fmt.Sprintf("/proc/%d/mem", liveTID(pid)))
	if err != nil {
		return nil, err
	}
	defer mem.Close()
	rels, err := img.relocs()
	if err != nil {
		return nil, err
	}
	var out []gotSlot
	for _, r := range rels {
		if r.sym == 0 || r.sym > len(syms) || (r.typ != elf.R_X86_64_JMP_SLOT && r.typ != elf.R_X86_64_GLOB_DAT && r.typ != elf.R_X86_64_64) {
			continue
		}
		sym := syms[r.sym-1]
		if sym.Section != elf.SHN_UNDEF || (r.typ == elf.R_X86_64_64 && r.addend != 0) {
			continue
		}
		for _, tg := range byName[sym.Name] {
			if _, v, ok := strings.Cut(tg.key, "@"); ok && sym.HasVersion && sym.Version != "" && sym.Version != v {
				continue
			}
			var w [8]byte
			addr := bias + r.off
			if _, err := mem.ReadAt(w[:], int64(addr)); err != nil {
				return nil, fmt.Errorf("reading %s's GOT at %#x: %w", ms[0].path, addr, err)
			}
			cur := binary.LittleEndian.Uint64(w[:])
			lazy := r.typ == elf.R_X86_64_JMP_SLOT && mappingsHold(ms, cur)
			stacked := false
			if pw, ok := prev[addr]; ok {
				stacked = pw == w
			}
			if cur == tg.old || lazy || stacked {
				out = append(out, gotSlot{addr: addr, old: cur, new: tg.new, name: tg.key})
			}
		}
	}
	return out, nil
}
