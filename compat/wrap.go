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
	// The lines are built in one buffer, written once: a report of a big
	// library wraps 100,000 texts.
	b := make([]byte, 0, len(first)+len(text)+len(indent)+1)
	b = append(b, first...)
	start := utf8.RuneCountInString(first)
	n, words := start, 0
	for word := range strings.FieldsSeq(text) {
		wn := utf8.RuneCountInString(word)
		if words > 0 && n+1+wn > width && n > start {
			b = append(b, '\n')
			b = append(b, indent...)
			n = utf8.RuneCountInString(indent)
			start = n
		} else if words > 0 {
			b = append(b, ' ')
			n++
		}
		b = append(b, word...)
		n += wn
		words++
	}
	b = append(b, '\n')
	w.Write(b)
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
