package compat

import (
	"encoding/xml"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/compatgate/compatgate/rules"
)

// JUnit XML, as Jenkins, GitLab and GitHub test-report actions read it.
type (
	junitSuites struct {
		XMLName  xml.Name     `xml:"testsuites"`
		Name     string       `xml:"name,attr"`
		Tests    int          `xml:"tests,attr"`
		Failures int          `xml:"failures,attr"`
		Errors   int          `xml:"errors,attr"`
		Suites   []junitSuite `xml:"testsuite"`
	}
	junitSuite struct {
		Name     string      `xml:"name,attr"`
		Tests    int         `xml:"tests,attr"`
		Failures int         `xml:"failures,attr"`
		Errors   int         `xml:"errors,attr"`
		Skipped  int         `xml:"skipped,attr"`
		Cases    []junitCase `xml:"testcase"`
		Out      string      `xml:"system-out,omitempty"`
	}
	junitCase struct {
		Name      string         `xml:"name,attr"`
		ClassName string         `xml:"classname,attr"`
		Failures  []junitFailure `xml:"failure"`
		SystemOut string         `xml:"system-out,omitempty"`
	}
	junitFailure struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr"`
		Text    string `xml:",chardata"`
	}
)

// libraryCase names the test case of findings about the library as a
// whole (SONAME, NEEDED, version nodes).
const libraryCase = "(library)"

// WriteJUnit writes the reports as JUnit XML: a test suite per library,
// a test case per exported symbol that has findings (a type finding
// counts for every symbol it affects; library-level findings go to the
// case "(library)"), a failure per break. Warnings and info are listed
// in the case's system-out; they fail nothing. The report's notes are in
// the suite's system-out.
func WriteJUnit(w io.Writer, reports ...*Report) error {
	all := junitSuites{Name: "compatgate"}
	for _, r := range reports {
		s := r.junitSuite()
		all.Tests += s.Tests
		all.Failures += s.Failures
		all.Suites = append(all.Suites, s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("writing JUnit report: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(all); err != nil {
		return fmt.Errorf("encoding JUnit report: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func (r *Report) junitSuite() junitSuite {
	name := r.libraryName()
	cases := make(map[string]*junitCase)
	var out = make(map[string]*strings.Builder)
	for i := range r.Len() {
		f := r.Finding(i)
		symbols := f.Affected
		if f.Symbol != "" && !slices.Contains(symbols, f.Symbol) {
			symbols = append([]string{f.Symbol}, symbols...)
		}
		if len(symbols) == 0 {
			symbols = []string{libraryCase}
		}
		for _, s := range symbols {
			c := cases[s]
			if c == nil {
				c = &junitCase{Name: junitName(s), ClassName: name}
				cases[s] = c
				out[s] = new(strings.Builder)
			}
			msg := demangleText(f.Message)
			at := ""
			if pos := f.Position(); pos != "" {
				at = "declared at " + pos
			}
			if f.Severity == rules.Break {
				text := msg
				if f.Path != "" {
					text += "\nvia " + demangleText(f.Path)
				}
				if at != "" {
					text += "\n" + at
				}
				c.Failures = append(c.Failures, junitFailure{Message: msg, Type: f.Rule, Text: text})
			} else if at != "" {
				fmt.Fprintf(out[s], "%s %s: %s (%s)\n", f.Severity, f.Rule, msg, at)
			} else {
				fmt.Fprintf(out[s], "%s %s: %s\n", f.Severity, f.Rule, msg)
			}
		}
	}
	keys := make([]string, 0, len(cases))
	for k := range cases {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	s := junitSuite{Name: name, Cases: []junitCase{}}
	for _, n := range r.Notes {
		s.Out += "note: " + n + "\n"
	}
	for _, k := range keys {
		c := cases[k]
		c.SystemOut = out[k].String()
		s.Cases = append(s.Cases, *c)
		s.Tests++
		if len(c.Failures) > 0 {
			s.Failures++
		}
	}
	return s
}

// junitName is a symbol's test case name: the symbol, with its readable
// form when it is mangled.
func junitName(symbol string) string {
	if d := Demangle(symbol); d != symbol {
		return d + " [" + symbol + "]"
	}
	return symbol
}

// libraryName names the library a report is about: its SONAME, else its
// file name.
func (r *Report) libraryName() string {
	for _, l := range []Library{r.New, r.Old} {
		if l.SONAME != "" {
			return l.SONAME
		}
	}
	if r.New.Path != "" {
		return filepath.Base(r.New.Path)
	}
	return filepath.Base(r.Old.Path)
}
