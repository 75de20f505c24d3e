// Command gen generates a synthetic C library pair for benchmarks, and a
// second version carrying ABI changes whose expected findings — the ground
// truth — form the case's want file. The output is a testdata case (see
// internal/casetest), so the same harness builds and checks it at any size.
//
// Two shapes. The modules shape (the default): a library of the given number
// of modules, each its own compilation unit with its own header, structs
// linked by pointer chains to other modules, enums, typedefs and a dozen
// exported functions, and a fixed set of changes. The header shape: one
// header defines all the structs and every unit includes it, so the DWARF
// repeats each struct once per unit; the functions are spread over the
// units, and 2% of the structs change; -owner links every struct back to
// one that points to all, so that the type graph is strongly connected.
//
// Usage:
//
//	go run ./bench/gen [-modules N] -o case.txtar
//	go run ./bench/gen -modules N -dir DIR   # a source tree: DIR/v1, DIR/v2, DIR/want
//	go run ./bench/gen -shape header -structs 400 -functions 4000 -units 40 [-owner] -dir DIR
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/tools/txtar"
)

func main() {
	shape := flag.String("shape", "modules", "the library's shape: modules or header")
	modules := flag.Int("modules", 200, "modules shape: number of modules (compilation units); at least 8")
	var hs headerShape
	flag.IntVar(&hs.Structs, "structs", 400, "header shape: number of structs in the header")
	flag.IntVar(&hs.Functions, "functions", 4000, "header shape: number of exported functions")
	flag.IntVar(&hs.Units, "units", 40, "header shape: number of compilation units")
	flag.BoolVar(&hs.Owner, "owner", false, "header shape: every struct points back to a struct that points to all: one strongly connected type graph")
	out := flag.String("o", "", "write the case as a txtar archive to this file")
	dir := flag.String("dir", "", "write the case as a source tree under this directory")
	flag.Parse()
	usage := func(msg string) {
		fmt.Fprintf(os.Stderr, "gen: %s\nusage: gen [-modules N≥%d | -shape header -structs S -functions F -units U [-owner]] (-o case.txtar | -dir DIR)\n",
			msg, minModules)
		os.Exit(2)
	}
	if (*out == "") == (*dir == "") || flag.NArg() > 0 {
		usage("one of -o and -dir, and no arguments")
	}
	var ar *txtar.Archive
	switch *shape {
	case "modules":
		if *modules < minModules {
			usage(fmt.Sprintf("-modules %d: at least %d", *modules, minModules))
		}
		ar = generate(*modules)
	case "header":
		if err := hs.check(); err != nil {
			usage(err.Error())
		}
		ar = generateHeader(hs)
	default:
		usage(fmt.Sprintf("-shape %q: modules or header", *shape))
	}
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
