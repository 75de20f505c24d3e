package compat

import (
	"io"
	"strings"
	"unicode/utf8"
)

// DefaultWidth is the width the text report wraps at when none is given:
// a report written to a file or a pipe.
const DefaultWidth = 100

// wrap writes text to w in lines of at most width columns, breaking at
// spaces: the first line starts with first, the others with indent. A
// word longer than a line is not broken.
func wrap(w io.Writer, first, indent, text string, width int) {
	line := first
	start := utf8.RuneCountInString(first)
	n := start
	for i, word := range strings.Fields(text) {
		wn := utf8.RuneCountInString(word)
		if i > 0 && n+1+wn > width && n > start {
			io.WriteString(w, line+"\n")
			line, n = indent, utf8.RuneCountInString(indent)
			start = n
		} else if i > 0 {
			line += " "
			n++
		}
		line += word
		n += wn
	}
	io.WriteString(w, line+"\n")
}

// shorten returns s cut to at most max runes, ending in an ellipsis when
// cut.
func shorten(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return string(r[:max-1]) + "…"
}
