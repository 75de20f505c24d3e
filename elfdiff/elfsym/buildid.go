package elfsym

import (
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
)

// BuildID returns the GNU build-id note in hex, or "".
func BuildID(ef *elf.File) string {
	for _, s := range ef.Sections {
		if s.Type != elf.SHT_NOTE {
			continue
		}
		data, err := s.Data()
		if err != nil {
			continue
		}
		if id := findBuildID(data, ef.ByteOrder); id != "" {
			return id
		}
	}
	return ""
}

// findBuildID scans a note section's contents for NT_GNU_BUILD_ID.
func findBuildID(data []byte, bo binary.ByteOrder) string {
	const ntGNUBuildID = 3
	for len(data) >= 12 {
		namesz, descsz, typ := bo.Uint32(data), bo.Uint32(data[4:]), bo.Uint32(data[8:])
		data = data[12:]
		nameEnd := align4(uint64(namesz))
		descEnd := nameEnd + align4(uint64(descsz))
		if descEnd > uint64(len(data)) {
			return ""
		}
		if typ == ntGNUBuildID && namesz == 4 && string(data[:3]) == "GNU" {
			return hex.EncodeToString(data[nameEnd : nameEnd+uint64(descsz)])
		}
		data = data[descEnd:]
	}
	return ""
}

func align4(n uint64) uint64 { return (n + 3) &^ 3 }
