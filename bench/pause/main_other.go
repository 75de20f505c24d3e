//go:build !(linux && amd64)

// Command pause needs the injection engine, which runs on linux/amd64 only.
package main

import (
	"fmt"
	"os"
	"runtime"
)

func main() {
	fmt.Fprintf(os.Stderr, "pause: the injection engine is not supported on %s/%s (linux/amd64 only)\n", runtime.GOOS, runtime.GOARCH)
	os.Exit(1)
}
