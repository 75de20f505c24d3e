package debfile

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ar builds an ar archive of the given members.
func ar(members ...[2]string) []byte {
	var b bytes.Buffer
	b.WriteString(arMagic)
	for _, m := range members {
		fmt.Fprintf(&b, "%-16s%-12s%-6s%-6s%-8s%-10d`\n", m[0], "0", "0", "0", "100644", len(m[1]))
		b.WriteString(m[1])
		if len(m[1])%2 == 1 {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// tarOf builds a tar archive: the links first, then the files.
func tarOf(files map[string]string, links map[string]string) string {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for name, target := range links {
		tw.WriteHeader(&tar.Header{Name: name, Linkname: target, Typeflag: tar.TypeSymlink})
	}
	for name, body := range files {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
	}
	tw.Close()
	return b.String()
}

func TestExtract(t *testing.T) {
	outside := t.TempDir()
	data := tarOf(map[string]string{
		"./usr/lib/libx.so.1.0": "\x7fELF kept",
		"./usr/share/doc/x":     "not kept",
		"../../escape":          "\x7fELF outside",
		"./evil/planted":        "\x7fELF through a link",
	}, map[string]string{"./usr/lib/libx.so.1": "libx.so.1.0", "./evil": outside})
	dir := t.TempDir()
	deb := filepath.Join(dir, "x.deb")
	os.WriteFile(deb, ar([2]string{"debian-binary", "2.0\n"}, [2]string{"control.tar", tarOf(nil, nil)}, [2]string{"data.tar", data}), 0o644)
	if !IsDeb(deb) {
		t.Fatal("IsDeb = false")
	}
	out := filepath.Join(dir, "out")
	n, err := Extract(deb, out, func(_ string, head []byte) bool { return bytes.HasPrefix(head, []byte("\x7fELF")) })
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(out, "usr/lib/libx.so.1")); n != 2 || err != nil || string(b) != "\x7fELF kept" {
		t.Errorf("n=%d, through the link: %q, %v", n, b, err)
	}
	if _, err := os.Stat(filepath.Join(out, "usr/share/doc/x")); err == nil {
		t.Error("a file keep rejected was written")
	}
	if _, err := os.Stat(filepath.Join(dir, "escape")); err == nil {
		t.Error("../../escape was written outside the directory")
	}
	if _, err := os.Lstat(filepath.Join(outside, "planted")); err == nil {
		t.Error("a file was written through a link the package made")
	}
}

func TestExtractBadInput(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "not an ar archive"},
		{"text", []byte("hello, world\n"), "not an ar archive"},
		{"no data", ar([2]string{"debian-binary", "2.0\n"}), "no data.tar member"},
		{"truncated", ar([2]string{"debian-binary", "2.0\n"}, [2]string{"data.tar.gz", strings.Repeat("x", 40)})[:140], "bad size"},
		{"bad gzip", ar([2]string{"debian-binary", "2.0\n"}, [2]string{"data.tar.gz", "not gzip"}), "data.tar.gz"},
		{"bad xz", ar([2]string{"debian-binary", "2.0\n"}, [2]string{"data.tar.xz", "not xz"}), "data.tar.xz"},
		{"unknown", ar([2]string{"debian-binary", "2.0\n"}, [2]string{"data.tar.lzma", "x"}), `unknown compression ".lzma"`},
	}
	for _, tt := range tests {
		p := filepath.Join(dir, tt.name+".deb")
		os.WriteFile(p, tt.data, 0o644)
		_, err := Extract(p, filepath.Join(dir, tt.name), func(string, []byte) bool { return true })
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %v, want one naming %s and %q", tt.name, err, p, tt.want)
		}
	}
}
