package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/compatgate/compatgate/gate/inject"
)

// runPatchinfo writes and shows the .patchinfo section of patch objects.
func runPatchinfo(e env) int {
	return dispatch(e, "compatgate patchinfo", []command{
		{"write", "write the .patchinfo section into a built patch object", runPatchinfoWrite},
		{"show", "print the .patchinfo section of a patch object", runPatchinfoShow},
	}, patchinfoUsage)
}

func patchinfoUsage(w io.Writer) {
	fmt.Fprintf(w, "Usage: compatgate patchinfo <subcommand> [flags] PATCH.so\n\n")
	fmt.Fprintf(w, "  compatgate patchinfo write --target OLD --version V --functions F[,F...] PATCH.so\n")
	fmt.Fprintf(w, "  compatgate patchinfo show [--format text|json] PATCH.so\n\n")
	fmt.Fprintf(w, "A patch object is a shared object whose .patchinfo section names the one build of a\n")
	fmt.Fprintf(w, "library it patches (by build-id), its version and the functions it replaces;\n")
	fmt.Fprintf(w, "'compatgate apply --pid PID OLD PATCH.so' then redirects only those functions,\n")
	fmt.Fprintf(w, "and only when OLD is that build.\n")
}

func runPatchinfoWrite(e env) int {
	fs := newFlagSet(e, "patchinfo write", "patchinfo write --target OLD --version V --functions F[,F...] PATCH.so")
	target := fs.String("target", "", "the library build the patch is for (its build-id is recorded; required)")
	version := fs.String("version", "", "the patch's version (required)")
	functions := fs.String("functions", "", "the functions the patch replaces, comma-separated (required)")
	if code, ok := parseFlags(e, fs); !ok {
		return code
	}
	args := fs.Args()
	if len(args) != 1 || *target == "" || *version == "" || *functions == "" {
		fmt.Fprintf(e.stderr, "compatgate patchinfo write: want --target, --version, --functions and one PATCH.so\n")
		fs.Usage()
		return exitUsage
	}
	id, err := inject.BuildID(*target)
	if err != nil {
		fmt.Fprintf(e.stderr, "compatgate patchinfo write: %v\n", err)
		return exitError
	}
	var fns []string
	for _, f := range strings.Split(*functions, ",") {
		if f = strings.TrimSpace(f); f != "" {
			fns = append(fns, f)
		}
	}
	pi := inject.PatchInfo{TargetBuildID: id, Version: *version, Functions: fns}
	if err := inject.WritePatchInfo(args[0], pi); err != nil {
		fmt.Fprintf(e.stderr, "compatgate patchinfo write: %v\n", err)
		return exitError
	}
	fmt.Fprintf(e.stdout, "%s: patch %s for build %s, replacing %s\n", args[0], pi.Version, pi.TargetBuildID, strings.Join(fns, ", "))
	return exitOK
}

func runPatchinfoShow(e env) int {
	fs := newFlagSet(e, "patchinfo show", "patchinfo show [--format text|json] PATCH.so")
	format := fs.String("format", "text", "output format: text or json")
	if code, ok := parseFlags(e, fs); !ok {
		return code
	}
	args := fs.Args()
	if len(args) != 1 || (*format != "text" && *format != "json") {
		fmt.Fprintf(e.stderr, "compatgate patchinfo show: want one PATCH.so and --format text or json\n")
		return exitUsage
	}
	pi, err := inject.ReadPatchInfo(args[0])
	if err != nil {
		fmt.Fprintf(e.stderr, "compatgate patchinfo show: %v\n", err)
		return exitError
	}
	if pi == nil {
		fmt.Fprintf(e.stderr, "compatgate patchinfo show: %s has no %s section\n", args[0], inject.PatchInfoSection)
		return exitError
	}
	if *format == "json" {
		if err := writeJSON(e.stdout, pi); err != nil {
			return exitError
		}
		return exitOK
	}
	fmt.Fprintf(e.stdout, "version:   %s\ntarget:    %s\nfunctions: %s\n", pi.Version, pi.TargetBuildID, strings.Join(pi.Functions, ", "))
	return exitOK
}
