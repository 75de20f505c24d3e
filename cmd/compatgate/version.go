package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is set at link time with -ldflags "-X main.version=v1.2.3"; when
// empty, the module version from the build information is used.
var version = ""

func runVersion(e env) int {
	fs := newFlagSet(e, "version", "version")
	if code, ok := parseFlags(e, fs); !ok {
		return code
	}
	fmt.Fprintf(e.stdout, "compatgate %s %s/%s %s\n", moduleVersion(), runtime.GOOS, runtime.GOARCH, runtime.Version())
	return exitOK
}

// moduleVersion returns compatgate's version: the one set at link time,
// else the module's from the build information, else "(devel)".
func moduleVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
