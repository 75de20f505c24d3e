//go:build linux && amd64

package inject

import (
	"encoding/binary"
	"fmt"
	"sort"
)

// A trampoline slot is `jmp qword ptr [rip+0]` followed by the absolute
// address of the NEW function: 14 bytes, reachable from anywhere.
const slotSize = 14

const (
	minMapAddr = 0x10000        // vm.mmap_min_addr's default
	maxMapAddr = 0x7ffffffff000 // top of the 47-bit user address space
	stackGuard = 64 << 20       // keep clear below [stack] so it can grow
)

func slotBytes(dest uint64) []byte {
	b := []byte{0xff, 0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.LittleEndian.PutUint64(b[6:], dest)
	return b
}

// slotWindow returns the range [lo, hi) in which the trampoline slot of a
// patch at p may lie.
//
// The patch is written as ONE aligned 8-byte word. When the 5 bytes of the
// jmp fit in the word containing p, any slot within ±2 GiB works. When they
// straddle into the next word (the usual case: a 16-byte aligned function
// starting with endbr64 is patched at offset 4, bytes 4..8), the engine does
// not write the second word at all: it picks the slot so that the high bytes
// of the rel32 displacement, which lie in the second word, equal the bytes
// already there. With k bytes of the jmp in the first word, 5-k high bytes
// of rel32 are fixed by the original code and the slot has a window of
// 2^(8(k-1)) bytes (16 MiB when k = 4) at a displacement the original bytes
// dictate. Every intermediate state is thus a whole instruction: the
// original one, or the complete jmp.
func slotWindow(p uint64, orig [8]byte) (lo, hi uint64) {
	next := p + jmpLen
	k := 8 - p%8
	if k >= jmpLen {
		return next - 1<<31, next + 1<<31
	}
	free := k - 1 // low bytes of rel32 we may choose
	var rel [4]byte
	for i := free; i < 4; i++ {
		rel[i] = orig[1+i]
	}
	base := int64(int32(binary.LittleEndian.Uint32(rel[:])))
	lo = uint64(int64(next) + base)
	return lo, lo + 1<<(8*free)
}

// trampPage is one page of trampoline slots.
type trampPage struct {
	addr  uint64
	used  []uint64 // slot starts
	bytes [pageSize]byte
}

// fit finds a free slot start in [lo, hi) inside the page.
func (pg *trampPage) fit(lo, hi uint64) (uint64, bool) {
	cs := max(lo, pg.addr)
	ce := min(hi-1, pg.addr+pageSize-slotSize) // last acceptable start
	if hi == 0 || cs > ce {
		return 0, false
	}
	free := func(t uint64) bool {
		for _, u := range pg.used {
			if t < u+slotSize && u < t+slotSize {
				return false
			}
		}
		return true
	}
	if free(cs) {
		return cs, true
	}
	for t := (cs + 15) &^ 15; t <= ce; t += 16 {
		if free(t) {
			return t, true
		}
	}
	return 0, false
}

// trampPlanner places trampoline slots in pages within reach of each patch,
// reusing pages where it can and finding free address space for new ones.
type trampPlanner struct {
	gaps  [][2]uint64 // free, page-aligned [start, end)
	pages []*trampPage
}

func newTrampPlanner(maps []mapping) *trampPlanner {
	ms := append([]mapping(nil), maps...)
	sort.Slice(ms, func(i, j int) bool { return ms[i].start < ms[j].start })
	pl := &trampPlanner{}
	prev := uint64(minMapAddr)
	for _, m := range ms {
		if m.start >= maxMapAddr {
			break
		}
		start := m.start
		if m.path == "[stack]" && start > stackGuard {
			start -= stackGuard
		}
		if start > prev {
			pl.gaps = append(pl.gaps, [2]uint64{prev, start &^ (pageSize - 1)})
		}
		prev = max(prev, (m.end+pageSize-1)&^(pageSize-1))
	}
	if prev < maxMapAddr {
		pl.gaps = append(pl.gaps, [2]uint64{prev, maxMapAddr})
	}
	return pl
}

// alloc reserves a slot in [lo, hi) and fills it with a jump to dest.
func (pl *trampPlanner) alloc(lo, hi, dest uint64) (uint64, error) {
	if lo < minMapAddr {
		lo = minMapAddr
	}
	if hi > maxMapAddr {
		hi = maxMapAddr
	}
	if lo >= hi {
		return 0, fmt.Errorf("no address space for a trampoline in the required window")
	}
	for _, pg := range pl.pages {
		if t, ok := pg.fit(lo, hi); ok {
			pl.take(pg, t, dest)
			return t, nil
		}
	}
	for i, g := range pl.gaps {
		pa := max(g[0], lo&^(pageSize-1))
		for n := 0; n < 2 && pa+pageSize <= g[1] && pa < hi; n, pa = n+1, pa+pageSize {
			pg := &trampPage{addr: pa}
			t, ok := pg.fit(lo, hi)
			if !ok {
				continue
			}
			// Split the gap around the new page.
			var rest [][2]uint64
			if g[0] < pa {
				rest = append(rest, [2]uint64{g[0], pa})
			}
			if pa+pageSize < g[1] {
				rest = append(rest, [2]uint64{pa + pageSize, g[1]})
			}
			pl.gaps = append(pl.gaps[:i], append(rest, pl.gaps[i+1:]...)...)
			pl.pages = append(pl.pages, pg)
			pl.take(pg, t, dest)
			return t, nil
		}
	}
	return 0, fmt.Errorf("no free page for a trampoline in [%#x, %#x)", lo, hi)
}

func (pl *trampPlanner) take(pg *trampPage, t, dest uint64) {
	pg.used = append(pg.used, t)
	copy(pg.bytes[t-pg.addr:], slotBytes(dest))
}

// jmpBytes returns `jmp rel32` at p to t.
func jmpBytes(p, t uint64) [jmpLen]byte {
	var b [jmpLen]byte
	b[0] = 0xe9
	binary.LittleEndian.PutUint32(b[1:], uint32(int32(int64(t)-int64(p+jmpLen))))
	return b
}
