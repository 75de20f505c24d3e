//go:build !(linux || darwin || dragonfly || freebsd || netbsd || openbsd)

package dwarfdec

import "io"

// mapFile reports that files are not mapped on this platform: sections
// are read into memory.
func mapFile(io.ReaderAt, uint64, uint64) (fileMap, bool) { return fileMap{}, false }
