package compat

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestWrap(t *testing.T) {
	for _, tc := range []struct {
		first, indent, text string
		width               int
		want                string
	}{
		{"  break  ", "         ", "rule: a b c", 100, "  break  rule: a b c\n"},
		{"note: ", "      ", "aaaa bbbb cccc dddd", 16, "note: aaaa bbbb\n      cccc dddd\n"},
		{"x ", "  ", "averyveryverylongword tail", 8, "x averyveryverylongword\n  tail\n"},
		{"via ", "    ", "a → b → c", 9, "via a → b\n    → c\n"},
	} {
		var b strings.Builder
		wrap(&b, tc.first, tc.indent, tc.text, tc.width)
		if b.String() != tc.want {
			t.Errorf("wrap(%q, %d) = %q, want %q", tc.text, tc.width, b.String(), tc.want)
		}
	}
}

func TestWrapWidth(t *testing.T) {
	text := strings.Repeat("word ", 200)
	var b strings.Builder
	wrap(&b, "  info   ", "         ", text, DefaultWidth)
	for _, line := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		if n := utf8.RuneCountInString(line); n > DefaultWidth {
			t.Errorf("line of %d columns: %q", n, line)
		}
	}
}

func TestShorten(t *testing.T) {
	for _, tc := range []struct {
		s    string
		max  int
		want string
	}{
		{"struct point", 40, "struct point"},
		{"std::vector<std::basic_string<char>>", 12, "std::vector…"},
		{"αβγδε", 4, "αβγ…"},
	} {
		if got := shorten(tc.s, tc.max); got != tc.want {
			t.Errorf("shorten(%q, %d) = %q, want %q", tc.s, tc.max, got, tc.want)
		}
	}
}
