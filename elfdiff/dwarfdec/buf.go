package dwarfdec

import (
	"bytes"
	"encoding/binary"
)

// cstringAt returns the NUL-terminated string at off in data, or nil when
// off is out of range.
func cstringAt(data []byte, off uint64) []byte {
	if off >= uint64(len(data)) {
		return nil
	}
	b := ScanBuf{Data: data, Pos: off}
	return b.cstring()
}

// ScanBuf reads DWARF encodings from data at pos; the first error sticks
// and every later read returns zero.
type ScanBuf struct {
	Data  []byte           // the bytes read
	Pos   uint64           // the offset of the next read in Data
	Order binary.ByteOrder // the byte order of multi-byte values
	Err   error            // the first error, if any
}

func (b *ScanBuf) need(n uint64) bool {
	if b.Err != nil {
		return false
	}
	if n > uint64(len(b.Data)) || b.Pos > uint64(len(b.Data))-n {
		b.Err = errScanTruncated
		return false
	}
	return true
}

func (b *ScanBuf) advance(n uint64) {
	if b.need(n) {
		b.Pos += n
	}
}

func (b *ScanBuf) bytes(n uint64) []byte {
	if !b.need(n) {
		return nil
	}
	v := b.Data[b.Pos : b.Pos+n : b.Pos+n]
	b.Pos += n
	return v
}

func (b *ScanBuf) u8() uint8 {
	if !b.need(1) {
		return 0
	}
	v := b.Data[b.Pos]
	b.Pos++
	return v
}

func (b *ScanBuf) u16() uint16 {
	if !b.need(2) {
		return 0
	}
	v := b.byteOrder().Uint16(b.Data[b.Pos:])
	b.Pos += 2
	return v
}

func (b *ScanBuf) u24() uint64 {
	if !b.need(3) {
		return 0
	}
	p := b.Data[b.Pos:]
	b.Pos += 3
	if b.byteOrder() == binary.ByteOrder(binary.BigEndian) {
		return uint64(p[0])<<16 | uint64(p[1])<<8 | uint64(p[2])
	}
	return uint64(p[0]) | uint64(p[1])<<8 | uint64(p[2])<<16
}

// U32 reads a 4-byte value.
func (b *ScanBuf) U32() uint32 {
	if !b.need(4) {
		return 0
	}
	v := b.byteOrder().Uint32(b.Data[b.Pos:])
	b.Pos += 4
	return v
}

// U64 reads an 8-byte value.
func (b *ScanBuf) U64() uint64 {
	if !b.need(8) {
		return 0
	}
	v := b.byteOrder().Uint64(b.Data[b.Pos:])
	b.Pos += 8
	return v
}

// offset reads a section offset of size 4 or 8.
func (b *ScanBuf) offset(size int) uint64 {
	if size == 8 {
		return b.U64()
	}
	return uint64(b.U32())
}

// addr reads an address of size 4 or 8.
func (b *ScanBuf) addr(size int) uint64 { return b.offset(size) }

func (b *ScanBuf) byteOrder() binary.ByteOrder {
	if b.Order == nil {
		return binary.LittleEndian
	}
	return b.Order
}

func (b *ScanBuf) uleb() uint64 {
	var v uint64
	for shift := uint(0); ; shift += 7 {
		if !b.need(1) {
			return 0
		}
		c := b.Data[b.Pos]
		b.Pos++
		if shift < 64 {
			v |= uint64(c&0x7f) << shift
		}
		if c&0x80 == 0 {
			return v
		}
	}
}

func (b *ScanBuf) sleb() int64 {
	var v int64
	shift := uint(0)
	for {
		if !b.need(1) {
			return 0
		}
		c := b.Data[b.Pos]
		b.Pos++
		if shift < 64 {
			v |= int64(c&0x7f) << shift
		}
		shift += 7
		if c&0x80 == 0 {
			if shift < 64 && c&0x40 != 0 {
				v |= -1 << shift
			}
			return v
		}
	}
}

// cstring reads a NUL-terminated string, without the NUL.
func (b *ScanBuf) cstring() []byte {
	if b.Err != nil {
		return nil
	}
	rest := b.Data[b.Pos:]
	i := bytes.IndexByte(rest, 0)
	if i < 0 {
		b.Err = errScanTruncated
		return nil
	}
	b.Pos += uint64(i) + 1
	return rest[:i:i]
}
