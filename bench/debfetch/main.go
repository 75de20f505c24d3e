//go:build linux

// Command debfetch fetches Debian packages for the bench scripts through the
// private apt configuration of internal/debian, and prints where they are.
//
//	debfetch [-cache DIR] deb SPEC            the .deb's path
//	debfetch [-cache DIR] extract SPEC...     the directory the packages are extracted into
//	debfetch [-cache DIR] source SPEC         the unpacked source tree (shared: copy before building)
//
// SPEC is spelled as apt-get spells it: zlib1g/trixie, zlib1g=1:1.2.13.dfsg-1.
// The cache defaults to $COMPATGATE_DEB_CACHE, else /var/cache/compatgate-debian.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/compatgate/compatgate/internal/debian"
)

func main() {
	cache := flag.String("cache", "", "cache directory")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: debfetch [-cache DIR] deb SPEC | extract SPEC... | source SPEC")
	}
	flag.Parse()
	args := flag.Args()
	if len(args) < 2 || (args[0] != "extract" && len(args) != 2) {
		flag.Usage()
		os.Exit(2)
	}
	ctx := context.Background()
	a, err := debian.Open(ctx, *cache)
	if err != nil {
		fmt.Fprintln(os.Stderr, "debfetch:", err)
		os.Exit(1)
	}
	var out string
	switch args[0] {
	case "deb":
		out, err = a.Download(ctx, args[1])
	case "extract":
		out, err = a.Extract(ctx, args[1:]...)
	case "source":
		out, err = a.Source(ctx, args[1])
	default:
		flag.Usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "debfetch:", err)
		os.Exit(1)
	}
	fmt.Println(out)
}
