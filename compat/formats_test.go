package compat

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compatgate/compatgate/elfdiff"
	"github.com/compatgate/compatgate/internal/sarifcheck"
	"github.com/compatgate/compatgate/rules"
)

// escapeReport returns a report whose finding text holds every character
// the formats must escape.
func escapeReport() *Report {
	r := &Report{Schema: SchemaVersion, Old: Library{Path: "old dir/a.so", SONAME: "liba.so.1"},
		New: Library{Path: "/new dir/a.so", SONAME: "liba.so.1"}, TypesChecked: true}
	r.judge(elfdiff.NewChanges([]elfdiff.Change{{Kind: elfdiff.SymbolRemoved, Symbol: "f_<x>", SymbolType: "FUNC",
		Affected: []string{"f_<x>"}, Detail: "100% gone, a:b\nline two | *x* & <y>"}}), rules.Default())
	return r
}

func TestWriteSARIF(t *testing.T) {
	var b bytes.Buffer
	if err := WriteSARIF(&b, SARIFOptions{Version: "v1.2.0"}, sampleReport(3), escapeReport()); err != nil {
		t.Fatal(err)
	}
	var log sarifLog
	if err := json.Unmarshal(b.Bytes(), &log); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	run := log.Runs[0]
	if log.Version != "2.1.0" || run.Tool.Driver.Version != "1.2.0" {
		t.Errorf("version %q, driver version %q", log.Version, run.Tool.Driver.Version)
	}
	// symbol-removed (in both reports) and type-size-shrank: one rule each.
	if len(run.Tool.Driver.Rules) != 2 || len(run.Results) != 5 {
		t.Fatalf("%d rules, %d results; want 2 rules, 5 results:\n%s", len(run.Tool.Driver.Rules), len(run.Results), b.String())
	}
	for _, res := range run.Results {
		rule := run.Tool.Driver.Rules[res.RuleIndex]
		if rule.ID != res.RuleID || res.Level != rule.DefaultConfiguration.Level || rule.FullDescription.Text == "" {
			t.Errorf("result %+v: rule %+v", res, rule)
		}
		if len(res.Locations) != 1 || res.Locations[0].PhysicalLocation == nil || len(res.Locations[0].LogicalLocations) == 0 {
			t.Errorf("result %s lacks its locations: %+v", res.RuleID, res.Locations)
		}
	}
	typeResult := run.Results[3] // the breaks first
	if typeResult.RuleID != "type-size-shrank" || typeResult.Level != "warning" {
		t.Errorf("result 3 = %s, %s; want type-size-shrank, warning", typeResult.RuleID, typeResult.Level)
	}
	ls := typeResult.Locations[0].LogicalLocations
	if len(ls) != 2 || ls[0].Kind != "type" || ls[1].Name != "ns::Widget<int>::draw()" || ls[1].DecoratedName != "_ZN2ns6WidgetIiE4drawEv" {
		t.Errorf("type finding's logical locations = %+v", ls)
	}
	if uri := run.Results[4].Locations[0].PhysicalLocation.ArtifactLocation.URI; uri != "file:///new%20dir/a.so" {
		t.Errorf("artifact URI = %q", uri)
	}
	path := filepath.Join(t.TempDir(), "report.sarif")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	sarifcheck.Validate(t, path)
}

func TestWriteJUnit(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJUnit(&b, sampleReport(2), escapeReport()); err != nil {
		t.Fatal(err)
	}
	var got junitSuites
	if err := xml.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("not XML: %v\n%s", err, b.String())
	}
	// sampleReport: draw (type-size-shrank, a warning) and two removed
	// symbols; escapeReport: one removed symbol.
	if got.Tests != 4 || got.Failures != 3 || len(got.Suites) != 2 {
		t.Fatalf("tests %d failures %d suites %d; want 4, 3, 2:\n%s", got.Tests, got.Failures, len(got.Suites), b.String())
	}
	if w := got.Suites[0].Cases[0]; !strings.Contains(w.SystemOut, "(declared at /src/include/ns/widget.h:12)") {
		t.Errorf("the warning's case does not say where the type is declared: %+v", w)
	}
	c := got.Suites[0].Cases[1] // sorted by symbol: _ZN2ns6… before _ZN2ns7…
	if c.Name != "ns::Widget0() [_ZN2ns7Widget0Ev]" || len(c.Failures) != 1 || c.Failures[0].Type != "symbol-removed" {
		t.Errorf("first case = %+v", c)
	}
	e := got.Suites[1].Cases[0]
	if got.Suites[1].Name != "liba.so.1" || e.Name != "f_<x>" || !strings.Contains(e.Failures[0].Text, "line two | *x* & <y>") {
		t.Errorf("escaped case = %+v in suite %q", e, got.Suites[1].Name)
	}
}

func TestWriteMarkdown(t *testing.T) {
	var b bytes.Buffer
	if err := WriteMarkdown(&b, MarkdownOptions{MaxDetails: 1}, sampleReport(3), escapeReport()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"## ❌ compatgate: incompatible (2 libraries)",
		"| `new.so` | ❌ incompatible | 3 | 1 | 0 |",
		"<details><summary><code>symbol-removed</code> (break, 3): ",
		"- `ns::Widget0()`: FUNC ns::Widget0() removed\n- … and 2 more\n",
		"`class ns::Widget<int>`: size of class ns::Widget&lt;int&gt; changed from 8 to 16 bytes (`widget.h:12`) — affects `ns::Widget<int>::draw()`",
		`100% gone, a:b line two \| \*x\* &amp; &lt;y&gt;`,
		"\n</details>\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "<details>") != strings.Count(out, "</details>") {
		t.Errorf("unbalanced <details>:\n%s", out)
	}
}

func TestWriteGitHub(t *testing.T) {
	var b bytes.Buffer
	if err := WriteGitHub(&b, GitHubOptions{}, escapeReport()); err != nil {
		t.Fatal(err)
	}
	want := "::error title=compatgate liba.so.1%3A symbol-removed::100%25 gone, a:b%0Aline two | *x* & <y>: " +
		"clients that use it fail to load or abort at first use (undefined symbol)\n" +
		"::error title=compatgate::verdict: incompatible (1 break, 0 warn, 0 info, 0 suppressed)\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}
