package elfsym

import (
	"debug/elf"
	"strings"
)

// SymKind names a symbol's ELF type as readelf does: FUNC, OBJECT, TLS,
// IFUNC, NOTYPE, COMMON.
func SymKind(s Symbol) string {
	if s.Type == elf.STT_GNU_IFUNC {
		return "IFUNC"
	}
	return strings.TrimPrefix(s.Type.String(), "STT_")
}

// BindName names a symbol's binding as readelf does: GLOBAL, WEAK, UNIQUE.
func BindName(s Symbol) string {
	if s.Bind == STB_GNU_UNIQUE {
		return "UNIQUE"
	}
	return strings.TrimPrefix(s.Bind.String(), "STB_")
}

// VisName names a symbol's visibility as readelf does: DEFAULT, PROTECTED.
func VisName(s Symbol) string { return strings.TrimPrefix(s.Visibility.String(), "STV_") }

// IsData reports whether the symbol names storage whose size clients rely on
// (copy relocations, TLS offsets).
func IsData(s Symbol) bool {
	return s.Type == elf.STT_OBJECT || s.Type == elf.STT_TLS || s.Type == elf.STT_COMMON
}

// STB_GNU_UNIQUE is the GNU binding for symbols unique across the whole
// process (C++ inline statics and template statics); debug/elf names it
// only as STB_LOOS.
const STB_GNU_UNIQUE = elf.STB_LOOS
