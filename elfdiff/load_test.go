package elfdiff

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestVersionSectionsMalformed corrupts the version definitions and
// requirements of a real library: loading must fail with a FormatError
// naming the section, never panic or loop.
func TestVersionSectionsMalformed(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed")
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "lib.map")
	if err := os.WriteFile(script, []byte("V_1 { global: api; local: *; };\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	so := buildLib(t, dir, "#include <stdlib.h>\nvoid *api(unsigned long n) { return malloc(n); }\n",
		"-g0", "-Wl,--version-script,"+script)
	data, err := os.ReadFile(so)
	if err != nil {
		t.Fatal(err)
	}
	ef, err := elf.Open(so)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	for _, tt := range []struct {
		section string
		field   int    // byte offset in the first entry
		value   uint32 // written there
	}{
		{".gnu.version_d", 12, 1 << 30},    // vd_aux far out
		{".gnu.version_d", 16, 0xfffffff0}, // vd_next backwards past the start
		{".gnu.version_r", 8, 1 << 30},     // vn_aux far out
		{".gnu.version_r", 12, 4},          // vn_next into the middle of an entry, then on
	} {
		sec := ef.Section(tt.section)
		if sec == nil {
			t.Fatalf("%s missing", tt.section)
		}
		bad := bytes.Clone(data)
		binary.LittleEndian.PutUint32(bad[sec.Offset+uint64(tt.field):], tt.value)
		_, err := LoadReader("bad.so", bytes.NewReader(bad))
		var fe *FormatError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), tt.section) {
			t.Errorf("%s+%d = %#x: err = %v, want a FormatError naming the section", tt.section, tt.field, tt.value, err)
		}
	}
}
