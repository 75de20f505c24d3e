package main

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/compatgate/compatgate/compat"
	"github.com/compatgate/compatgate/rules"
)

// Limits of issue 17's acceptance.
const (
	maxFalseBreaks = 2 // break findings in total over the pairs whose client runs against NEW
	maxTrueBreaks  = 5 // break findings of a pair whose client breaks against NEW
)

// accept states issue 17's acceptance on the pairs: no pair whose client
// runs correctly against NEW is incompatible, and those pairs carry at most
// maxFalseBreaks break findings in total; every pair whose client breaks is
// incompatible, with a break finding that names what the client saw fail,
// and with at most maxTrueBreaks break findings; at least minPairs pairs
// are judged. It returns one line per unmet point, each naming the pair.
func accept(pairs []*pair, minPairs int) []string {
	var fails []string
	falseBreaks, judged := 0, 0
	var falseBy []string
	for _, p := range pairs {
		if p.Truth == truthError {
			fails = append(fails, fmt.Sprintf("%s: no ground truth: %s", p.Name, p.TruthLine))
			continue
		}
		if p.Report == nil {
			fails = append(fails, fmt.Sprintf("%s: no compatgate report (%s)", p.Name, p.ReportErr))
			continue
		}
		judged++
		r := p.Report
		switch p.Truth {
		case truthOK:
			if r.Verdict == "incompatible" {
				fails = append(fails, fmt.Sprintf("%s: the client runs against NEW, but compatgate says incompatible (%d break: %s)",
					p.Name, r.Summary.Break, topRules(r, rules.Break, 3)))
			}
			if r.Summary.Break > 0 {
				falseBreaks += r.Summary.Break
				falseBy = append(falseBy, fmt.Sprintf("%s %d", p.Name, r.Summary.Break))
			}
		case truthBreak:
			if r.Verdict != "incompatible" {
				fails = append(fails, fmt.Sprintf("%s: the client breaks against NEW (%s), but compatgate says %s",
					p.Name, p.TruthLine, r.Verdict))
			}
			if r.Summary.Break > maxTrueBreaks {
				fails = append(fails, fmt.Sprintf("%s: %d break findings, at most %d allowed (%s)",
					p.Name, r.Summary.Break, maxTrueBreaks, topRules(r, rules.Break, 3)))
			}
			if explaining(r, p.TruthLine) == nil {
				fails = append(fails, fmt.Sprintf("%s: no break finding names what the client saw fail (%s)", p.Name, p.TruthLine))
			}
		}
	}
	if falseBreaks > maxFalseBreaks {
		fails = append(fails, fmt.Sprintf("pairs that run correctly against NEW carry %d break findings, at most %d allowed (%s)",
			falseBreaks, maxFalseBreaks, strings.Join(falseBy, ", ")))
	}
	if judged < minPairs {
		fails = append(fails, fmt.Sprintf("%d pairs judged, at least %d needed", judged, minPairs))
	}
	return fails
}

// identRE is an API name a client's BREAK line may name: a C identifier or
// a C++ qualified name.
var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(::[A-Za-z_~][A-Za-z0-9_]*)*$`)

// culprits returns the API names a client's BREAK line blames: the
// '/'-separated names before its first ": ", without argument lists or
// parenthesized remarks. A line that is not a BREAK line, or whose head is
// prose, blames none.
func culprits(line string) []string {
	rest, ok := strings.CutPrefix(line, "BREAK ")
	if !ok {
		return nil
	}
	head, _, _ := strings.Cut(rest, ": ")
	head = strings.TrimSpace(parenRE.ReplaceAllString(head, ""))
	if strings.ContainsAny(head, " \t") {
		return nil
	}
	var out []string
	for _, w := range strings.Split(head, "/") {
		if len(w) >= 4 && identRE.MatchString(w) {
			out = append(out, w)
		}
	}
	return out
}

// parenRE is a parenthesized part of a BREAK line's head, nested once at most.
var parenRE = regexp.MustCompile(`\((?:[^()]|\([^()]*\))*\)`)

// explaining returns the first break finding that names one of the API
// names the client's BREAK line blames, or nil.
func explaining(r *report, line string) *compat.Finding {
	names := culprits(line)
	for i := range r.Changes {
		f := &r.Changes[i]
		if f.Severity != rules.Break {
			continue
		}
		text := strings.Join(append([]string{f.Symbol, f.Demangled, f.Type, f.Where, f.Old, f.New, f.Message}, f.Affected...), "\n")
		for _, n := range names {
			if containsWord(text, n) {
				return f
			}
		}
	}
	return nil
}

// containsWord reports whether name occurs in text not as part of a longer
// identifier (ZSTD_c_experimentalParam1 is not in ZSTD_c_experimentalParam16).
func containsWord(text, name string) bool {
	for i := 0; ; {
		j := strings.Index(text[i:], name)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(name)
		if (start == 0 || !identByte(text[start-1])) && (end == len(text) || !identByte(text[end])) {
			return true
		}
		i = start + 1
	}
}

func identByte(b byte) bool {
	return b == '_' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}
