package dwarfdec

import "fmt"

// A Cursor walks a list of sibling DIEs.
type Cursor struct {
	unit *dieUnit
	pos  uint64 // the next DIE; the list ends at a null entry
	done bool
}

// ChildrenOf returns a cursor over the children of d.
func ChildrenOf(d *DIE) Cursor {
	return Cursor{unit: d.unit, pos: d.next, done: !d.children}
}

// Next decodes the next DIE of the list into d and moves past its
// children. It returns false at the end of the list.
func (dd *Decoder) Next(c *Cursor, d *DIE) (bool, error) {
	if c.done {
		return false, nil
	}
	if c.pos >= c.unit.end { // the null entries that end the unit left out
		c.done = true
		return false, nil
	}
	if err := dd.decode(c.unit, c.pos, d); err != nil {
		return false, err
	}
	if d.Tag == 0 {
		c.done = true
		return false, nil
	}
	pos, err := dd.skipChildren(d)
	if err != nil {
		return false, err
	}
	c.pos = pos
	return true, nil
}

// skipChildren returns the offset past the children of d: its
// DW_AT_sibling, as debug/dwarf's SkipChildren takes it, or the end of
// its subtree, found by walking it.
func (dd *Decoder) skipChildren(d *DIE) (uint64, error) {
	if !d.children {
		return d.next, nil
	}
	u := d.unit
	if sib, ok := d.Ref(slotSibling); ok && uint64(sib) >= d.next {
		if uint64(sib) >= u.end {
			return 0, fmt.Errorf("DIE at %#x: sibling %#x out of its unit", d.Off, sib)
		}
		return uint64(sib), nil
	}
	b := ScanBuf{Data: dd.sec.Info[:u.end], Pos: d.next, Order: dd.sec.Order}
	for depth := 1; depth > 0; {
		if b.Pos >= u.end { // the null entries that end the unit left out
			return u.end, nil
		}
		ab, err := dd.abbrevAt(u, &b)
		if err != nil {
			return 0, fmt.Errorf("children of DIE at %#x: %w", d.Off, err)
		}
		if ab == nil {
			depth--
			continue
		}
		for i := range ab.attrs {
			if err := skipForm(&b, &u.ScanUnit, uint32(ab.attrs[i].form)); err != nil {
				return 0, fmt.Errorf("children of DIE at %#x: %w", d.Off, err)
			}
		}
		if b.Err != nil {
			return 0, fmt.Errorf("children of DIE at %#x: %w", d.Off, b.Err)
		}
		if ab.children {
			depth++
		}
	}
	return b.Pos, nil
}
