// Command gen generates a synthetic C library pair for benchmarks: a
// library of the given number of modules, each its own compilation unit with
// structs linked by pointer chains to other modules, enums, typedefs and a
// dozen exported functions, and a second version carrying a fixed set of ABI
// changes whose expected findings — the ground truth — form the case's want
// file. The output is a testdata case (see internal/casetest), so the same
// harness builds and checks it at any size.
//
// Usage:
//
//	go run ./bench/gen [-modules N] -o case.txtar
//	go run ./bench/gen -modules N -dir DIR   # a source tree: DIR/v1, DIR/v2, DIR/want
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/tools/txtar"
)

func main() {
	modules := flag.Int("modules", 200, "number of modules (compilation units); at least 8")
	out := flag.String("o", "", "write the case as a txtar archive to this file")
	dir := flag.String("dir", "", "write the case as a source tree under this directory")
	flag.Parse()
	if (*out == "") == (*dir == "") || *modules < minModules {
		fmt.Fprintf(os.Stderr, "usage: gen [-modules N≥%d] (-o case.txtar | -dir DIR)\n", minModules)
		os.Exit(2)
	}
	ar := generate(*modules)
	var err error
	if *out != "" {
		err = os.WriteFile(*out, txtar.Format(ar), 0o644)
	} else {
		err = writeTree(*dir, ar)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "gen: %v\n", err)
		os.Exit(1)
	}
}

func writeTree(dir string, ar *txtar.Archive) error {
	for _, f := range ar.Files {
		p := filepath.Join(dir, f.Name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
