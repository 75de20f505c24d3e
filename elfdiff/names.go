package elfdiff

import (
	"debug/elf"
	"strings"
)

// symKind names a symbol's ELF type as readelf does: FUNC, OBJECT, TLS,
// IFUNC, NOTYPE, COMMON.
func symKind(s Symbol) string {
	if s.Type == elf.STT_GNU_IFUNC {
		return "IFUNC"
	}
	return strings.TrimPrefix(s.Type.String(), "STT_")
}

// bindName names a symbol's binding as readelf does: GLOBAL, WEAK, UNIQUE.
func bindName(s Symbol) string {
	if s.Bind == STB_GNU_UNIQUE {
		return "UNIQUE"
	}
	return strings.TrimPrefix(s.Bind.String(), "STB_")
}

// visName names a symbol's visibility as readelf does: DEFAULT, PROTECTED.
func visName(s Symbol) string { return strings.TrimPrefix(s.Visibility.String(), "STV_") }

// isData reports whether the symbol names storage whose size clients rely on
// (copy relocations, TLS offsets).
func isData(s Symbol) bool {
	return s.Type == elf.STT_OBJECT || s.Type == elf.STT_TLS || s.Type == elf.STT_COMMON
}
