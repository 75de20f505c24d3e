//go:build linux && amd64

package inject

import (
	"debug/elf"
	"errors"
	"sort"

	"golang.org/x/arch/x86/x86asm"
)

// A function without endbr64 whose entry lies 1 to 4 bytes before the end
// of an aligned word (so also one whose first instructions cross a page
// boundary) cannot take a whole `jmp rel32` in the word holding its entry.
// The engine first tries the one-word scheme of slotWindow (a trampoline
// slot at the displacement the bytes of the next word already encode);
// when no page can be placed there, it redirects through padding instead:
//
//   - a `jmp rel32` to a trampoline slot (±2 GiB) is written into padding
//     bytes of OLD's text within a short jump's reach of the entry: int3
//     or nop fill between functions, which no code executes;
//   - then a 2-byte short jump `EB disp8` to it is written at the entry,
//     inside the one aligned word that holds the entry (with a single
//     byte of the entry in that word, the displacement is the byte already
//     at entry+1, and the padding must lie exactly there).
//
// Each write is one aligned word. The padding words come first: until the
// entry's word is written they are unreachable, so every intermediate
// state is OLD or the complete redirection. Revert restores the entry's
// word first, then the padding; a thread found at a padding jump is moved
// on to its destination as the jump would.

// errCannotRedirect marks a function whose entry the engine cannot redirect
// safely in this process: the upgrade is refused.
var errCannotRedirect = errors.New("cannot be redirected safely")

// padRuns returns the padding of OLD's executable sections, in link-time
// addresses: maximal runs of bytes that no symbol (of .dynsym or .symtab)
// covers, that decode as int3 or nop instructions only, and that no
// relative branch of OLD targets. A run that is followed by something else
// than a known symbol or the end of its section (a function the symbol
// tables do not list) is kept only when made of int3 alone: nops may be a
// function's own first instructions (-fpatchable-function-entry), int3 is
// never code that runs.
func padRuns(img *image) ([]addrRange, error) {
	targets, err := branchTargets(img)
	if err != nil {
		return nil, err
	}
	var covered []addrRange
	starts := map[uint64]bool{}
	add := func(syms []elf.Symbol) {
		for _, s := range syms {
			if s.Section == elf.SHN_UNDEF || s.Value == 0 {
				continue
			}
			starts[s.Value] = true
			if s.Size > 0 {
				covered = append(covered, addrRange{s.Value, s.Value + s.Size})
			}
		}
	}
	add(img.dynsyms)
	if syms, err := img.file.Symbols(); err == nil {
		add(syms)
	}
	sort.Slice(covered, func(i, j int) bool { return covered[i].lo < covered[j].lo })
	var runs []addrRange
	text, err := img.text()
	if err != nil {
		return nil, err
	}
	for _, sec := range text {
		code := sec.code
		lo, hi := sec.addr, sec.addr+uint64(len(code))
		// The uncovered intervals of [lo, hi).
		at := lo
		i := sort.Search(len(covered), func(i int) bool { return covered[i].hi > lo })
		for at < hi {
			end := hi
			for ; i < len(covered) && covered[i].lo < hi; i++ {
				if covered[i].hi <= at {
					continue
				}
				if covered[i].lo <= at {
					at = covered[i].hi
					continue
				}
				end = covered[i].lo
				break
			}
			if at >= hi {
				break
			}
			if r, ok := padRun(code[at-lo:end-lo], at, end == hi || starts[end], targets); ok {
				runs = append(runs, r)
			}
			at = end
		}
	}
	return runs, nil
}

// padRun checks the uncovered bytes b at address a: padding when they all
// decode as int3 or nop (int3 alone unless known is true: the run ends at a
// known symbol or the section's end) and no branch targets them.
func padRun(b []byte, a uint64, known bool, targets map[uint64]bool) (addrRange, bool) {
	for off := 0; off < len(b); {
		if targets[a+uint64(off)] {
			return addrRange{}, false
		}
		if b[off] == 0xcc {
			off++
			continue
		}
		if !known || (len(b)-off >= 3 && b[off] == 0xf3 && b[off+1] == 0x0f && b[off+2] == 0x1e) {
			return addrRange{}, false // not int3; endbr64/32 starts code
		}
		inst, err := x86asm.Decode(b[off:], 64)
		if err != nil || inst.Len == 0 || !isNop(inst) {
			return addrRange{}, false
		}
		for k := 1; k < inst.Len; k++ {
			if targets[a+uint64(off+k)] {
				return addrRange{}, false
			}
		}
		off += inst.Len
	}
	return addrRange{a, a + uint64(len(b))}, len(b) > 0
}

// isNop reports whether inst does nothing: nop in any of its forms
// (0x90, 66 90, 0f 1f /0 with prefixes) or xchg %ax,%ax.
func isNop(inst x86asm.Inst) bool {
	if inst.Op == x86asm.NOP {
		return true
	}
	if inst.Op == x86asm.XCHG && inst.Args[0] == x86asm.AX && inst.Args[1] == x86asm.AX {
		return true
	}
	return false
}

// padPlan is where a redirection through padding writes.
type padPlan struct {
	entry [2]byte // EB disp8, at the entry
	at    uint64  // the padding jump's address (run time)
}

// planPad chooses the padding for the entry at run-time address p: the
// start q of 5 free padding bytes with q-(p+2) in [-128, 127] (with k = 1
// byte of the entry in its word, exactly p+2+int8(next)), not in avoid,
// holding in memory the bytes of the file (cur reads memory).
func planPad(p, bias uint64, k uint64, next byte, runs []addrRange, avoid []addrRange, cur func(a uint64, n int) ([]byte, error), fileBytes func(a uint64, n int) ([]byte, error)) (padPlan, bool, error) {
	fits := func(q uint64) (bool, error) {
		in := false
		for _, r := range runs {
			if q-bias >= r.lo && q-bias+jmpLen <= r.hi {
				in = true
				break
			}
		}
		if !in {
			return false, nil
		}
		for _, r := range avoid {
			if q < r.hi && r.lo < q+jmpLen {
				return false, nil
			}
		}
		m, err := cur(q, jmpLen)
		if err != nil {
			return false, err
		}
		f, err := fileBytes(q, jmpLen)
		if err != nil {
			return false, nil
		}
		return string(m) == string(f), nil
	}
	var cands []uint64
	if k == 1 {
		cands = []uint64{uint64(int64(p+2) + int64(int8(next)))}
	} else {
		// Nearest first.
		for d := int64(0); d <= 128; d++ {
			if d <= 127 {
				cands = append(cands, uint64(int64(p+2)+d))
			}
			if d > 0 {
				cands = append(cands, uint64(int64(p+2)-d))
			}
		}
	}
	for _, q := range cands {
		ok, err := fits(q)
		if err != nil {
			return padPlan{}, false, err
		}
		if ok {
			return padPlan{entry: [2]byte{0xeb, byte(int8(int64(q) - int64(p+2)))}, at: q}, true, nil
		}
	}
	return padPlan{}, false, nil
}
