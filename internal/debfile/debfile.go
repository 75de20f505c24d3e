// Package debfile reads Debian binary packages (.deb files): an ar archive
// holding debian-binary, control.tar.* and data.tar.*, the files the
// package installs.
//
// The ar archive and data.tar, data.tar.gz and data.tar.bz2 are read with
// the Go standard library. Go has no xz or zstd decompressor in its
// standard library, and none of the third-party ones is the standard for
// the job, so data.tar.xz and data.tar.zst (what Debian builds today) are
// decompressed by the xz and zstd commands, which every Debian system has.
package debfile

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

const (
	arMagic      = "!<arch>\n"
	arHeaderSize = 60
)

// IsDeb reports whether the file at p is a Debian binary package: an ar
// archive whose first member is debian-binary.
func IsDeb(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	var head [len(arMagic) + 16]byte
	if _, err := io.ReadFull(f, head[:]); err != nil {
		return false
	}
	return string(head[:len(arMagic)]) == arMagic &&
		strings.TrimRight(string(head[len(arMagic):]), " /") == "debian-binary"
}

// A member is one file of an ar archive.
type member struct {
	name string
	data *io.SectionReader
}

// members lists the members of the ar archive r.
func members(r io.ReaderAt, size int64) ([]member, error) {
	var magic [len(arMagic)]byte
	if _, err := r.ReadAt(magic[:], 0); err != nil || string(magic[:]) != arMagic {
		return nil, errors.New("not an ar archive")
	}
	var out []member
	for off := int64(len(arMagic)); off < size; {
		var h [arHeaderSize]byte
		if _, err := r.ReadAt(h[:], off); err != nil {
			return nil, fmt.Errorf("ar header at %d: %w", off, err)
		}
		if string(h[58:60]) != "`\n" {
			return nil, fmt.Errorf("ar header at %d: bad magic", off)
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(h[48:58])), 10, 64)
		if err != nil || n < 0 || off+arHeaderSize+n > size {
			return nil, fmt.Errorf("ar member at %d: bad size %q", off, h[48:58])
		}
		name := strings.TrimRight(strings.TrimSpace(string(h[:16])), "/")
		out = append(out, member{name, io.NewSectionReader(r, off+arHeaderSize, n)})
		off += arHeaderSize + n + n%2
	}
	return out, nil
}

// Extract unpacks into dir the regular files of the package at p for which
// keep returns true (given the file's path in the package and its first
// bytes), and every symbolic link. Paths that would leave dir, directly or
// through a link the package made, are skipped. It returns the number of files written.
func Extract(p, dir string, keep func(name string, head []byte) bool) (int, error) {
	f, err := os.Open(p)
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", p, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", p, err)
	}
	ms, err := members(f, fi.Size())
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", p, err)
	}
	for _, m := range ms {
		if !strings.HasPrefix(m.name, "data.tar") {
			continue
		}
		n, err := extractTar(m, dir, keep)
		if err != nil {
			return n, fmt.Errorf("reading %s: %s: %w", p, m.name, err)
		}
		return n, nil
	}
	return 0, fmt.Errorf("reading %s: no data.tar member: not a Debian binary package", p)
}

// extractTar decompresses a data.tar member and unpacks it.
func extractTar(m member, dir string, keep func(string, []byte) bool) (int, error) {
	var (
		r    io.Reader = m.data
		wait           = func() error { return nil }
	)
	switch ext := path.Ext(m.name); ext {
	case ".tar":
	case ".gz":
		zr, err := gzip.NewReader(m.data)
		if err != nil {
			return 0, err
		}
		r = zr
	case ".bz2":
		r = bzip2.NewReader(m.data)
	case ".xz", ".zst":
		tool := map[string]string{".xz": "xz", ".zst": "zstd"}[ext]
		cmd := exec.Command(tool, "-dc")
		cmd.Stdin = m.data
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			return 0, err
		}
		if err := cmd.Start(); err != nil {
			return 0, fmt.Errorf("decompressing needs the %s command: %w", tool, err)
		}
		r = out
		wait = func() error {
			if err := cmd.Wait(); err != nil {
				return fmt.Errorf("%s -dc: %w: %s", tool, err, strings.TrimSpace(stderr.String()))
			}
			return nil
		}
	default:
		return 0, fmt.Errorf("unknown compression %q", ext)
	}
	n, err := untar(r, dir, keep)
	if err != nil {
		io.Copy(io.Discard, r) // let the decompressor finish
		wait()
		return n, err
	}
	return n, wait()
}

// untar writes the kept files and the symbolic links of a tar stream.
func untar(r io.Reader, dir string, keep func(string, []byte) bool) (int, error) {
	tr := tar.NewReader(r)
	n := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		name := path.Clean("/" + h.Name)[1:]
		if name == "" {
			continue
		}
		dst := filepath.Join(dir, filepath.FromSlash(name))
		if throughLink(dir, name) {
			// A directory on the way is a link the package made: writing
			// through it could land anywhere (a package is untrusted).
			continue
		}
		switch h.Typeflag {
		case tar.TypeSymlink:
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return n, err
			}
			os.Remove(dst)
			if err := os.Symlink(h.Linkname, dst); err != nil {
				return n, err
			}
		case tar.TypeReg:
			br := bufio.NewReader(tr)
			head, err := br.Peek(64)
			if err != nil && err != io.EOF {
				return n, err
			}
			if !keep(name, head) {
				continue
			}
			if err := writeFile(dst, br); err != nil {
				return n, err
			}
			n++
		}
	}
}

// throughLink reports whether a directory on the way from dir to its
// relative path name is a symbolic link.
func throughLink(dir, name string) bool {
	p := dir
	parts := strings.Split(name, "/")
	for _, part := range parts[:len(parts)-1] {
		p = filepath.Join(p, part)
		fi, err := os.Lstat(p)
		if err != nil {
			return false // not there yet: made as a directory
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			return true
		}
	}
	return false
}

func writeFile(dst string, r io.Reader) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
