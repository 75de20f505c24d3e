package main

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/compatgate/compatgate/compat"
	"github.com/compatgate/compatgate/elfdiff"
	"github.com/compatgate/compatgate/elfdiff/abidump"
)

func runDump(e env) int {
	fs := newFlagSet(e, "dump", "dump [--debug-dir DIR] [--headers-dir DIR] [-o FILE] LIB.so\n\n"+
		"Write the ABI of LIB.so — symbols, library facts, C++ tables and the types its\n"+
		"debug information gives — as an ABI dump (docs/abi-dump.md), which check accepts\n"+
		"in place of the library. LIB.so may be a dump itself: it is written in the current format.")
	var debugDirs []string
	fs.Func("debug-dir", "also look for separate debug files in `DIR` (by build-id and .gnu_debuglink; repeatable)", repeated(&debugDirs))
	fs.Func("debug-info-dir", "same as --debug-dir `DIR`", repeated(&debugDirs))
	var headerDirs, headerFiles []string
	fs.Func("headers-dir", "the public headers are under `DIR` (repeatable; default: found beside the library)", repeated(&headerDirs))
	fs.Func("header-file", "`FILE` is a public header (repeatable)", repeated(&headerFiles))
	out := fs.String("o", "", "write the dump to `FILE` (gzip-compressed when it ends in .gz) instead of standard output")
	if code, ok := parseFlags(e, fs); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintf(e.stderr, "compatgate dump: want one library; got %d argument(s)\n", fs.NArg())
		fs.Usage()
		return exitUsage
	}
	c, _, err := abidump.Load(fs.Arg(0), elfdiff.LoadOptions{DebugDirs: debugDirs})
	if err == nil {
		// The dump records the public headers, so that a check against it
		// judges as a check against the library would.
		c.Headers, err = compat.PublicHeaders(fs.Arg(0), c.Headers, headerDirs, headerFiles, "")
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "compatgate dump: %v\n", err)
		return exitError
	}
	if *out == "" {
		err = abidump.Write(e.stdout, c)
	} else {
		err = writeDumpFile(*out, c)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "compatgate dump: %v\n", err)
		return exitError
	}
	return exitOK
}

// writeDumpFile writes the dump of c to path. A new or regular file is
// written through a temporary file renamed at the end, so that a failed
// dump leaves no half-written file behind, nor clobbers the one it would
// replace. Anything else — a device such as /dev/null, a pipe, a symbolic
// link — is written to in place: renaming over it would replace it.
func writeDumpFile(path string, c *elfdiff.Corpus) (err error) {
	if fi, err := os.Lstat(path); err == nil && !fi.Mode().IsRegular() {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
		if err != nil {
			return err
		}
		if err := encodeDump(f, path, c); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := encodeDump(tmp, path, c); err != nil {
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return os.Rename(tmp.Name(), path)
}

// encodeDump writes the dump of c to w, gzip-compressed when path ends in
// .gz.
func encodeDump(w io.Writer, path string, c *elfdiff.Corpus) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	var out io.Writer = bw
	var zw *gzip.Writer
	if strings.HasSuffix(path, ".gz") {
		// No name and no time in the header: the same input gives the
		// same bytes.
		zw = gzip.NewWriter(bw)
		out = zw
	}
	if err := abidump.Write(out, c); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
