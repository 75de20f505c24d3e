package gate

import "strings"

// CompareVersions compares two version strings as sort -V and dpkg do,
// simplified: split into runs of digits and of other characters, compared
// in turn — digit runs as numbers, others as text, with "~" before
// anything (1.0~rc1 < 1.0) — a missing part counting as less. It returns
// -1, 0 or +1.
func CompareVersions(a, b string) int {
	for a != "" || b != "" {
		var x, y string
		x, a = nextRun(a)
		y, b = nextRun(b)
		if c := compareRun(x, y); c != 0 {
			return c
		}
	}
	return 0
}

// nextRun splits off s's first run of digits or of other characters.
func nextRun(s string) (run, rest string) {
	if s == "" {
		return "", ""
	}
	digit := isDigit(s[0])
	i := 1
	for i < len(s) && isDigit(s[i]) == digit {
		i++
	}
	return s[:i], s[i:]
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func compareRun(x, y string) int {
	switch {
	case x == y:
		return 0
	case strings.HasPrefix(x, "~") != strings.HasPrefix(y, "~"):
		if strings.HasPrefix(x, "~") {
			return -1
		}
		return 1
	case x == "":
		return -1
	case y == "":
		return 1
	}
	if isDigit(x[0]) && isDigit(y[0]) {
		xt, yt := strings.TrimLeft(x, "0"), strings.TrimLeft(y, "0")
		if len(xt) != len(yt) {
			if len(xt) < len(yt) {
				return -1
			}
			return 1
		}
		return strings.Compare(xt, yt)
	}
	if isDigit(x[0]) != isDigit(y[0]) {
		// A number sorts after text ("1.0a" < "1.0.1" is not sure either
		// way; dpkg puts letters first).
		if isDigit(x[0]) {
			return 1
		}
		return -1
	}
	return strings.Compare(x, y)
}
