//go:build !unix

package main

import "io"

// termWidth returns 0: the text report wraps at compat.DefaultWidth.
func termWidth(io.Writer) int { return 0 }
