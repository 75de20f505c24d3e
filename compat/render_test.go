package compat

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/compatgate/compatgate/rules"
)

// sampleReport returns a report with n symbol findings of one rule and a
// type finding, as Judge would sort them.
func sampleReport(n int) *Report {
	r := &Report{Schema: SchemaVersion, Old: Library{Path: "old.so"}, New: Library{Path: "new.so"},
		Verdict: Incompatible, TypesChecked: true, Changes: []Finding{}}
	r.Changes = append(r.Changes, Finding{Rule: "type-size-changed", Severity: rules.Break,
		Type: "class ns::Widget<int>", Affected: []string{"_ZN2ns6WidgetIiE4drawEv"},
		Message: "size of class ns::Widget<int> changed from 8 to 16 bytes: <why>", Path: "_ZN2ns6WidgetIiE4drawEv → this"})
	for i := 0; i < n; i++ {
		sym := fmt.Sprintf("_ZN2ns7Widget%dEv", i)
		r.Changes = append(r.Changes, Finding{Rule: "symbol-removed", Severity: rules.Break, Symbol: sym,
			Demangled: Demangle(sym), Affected: []string{sym}, Message: "FUNC " + sym + " removed: <why>"})
	}
	r.Summary.Break = len(r.Changes)
	return r
}

// TestWriteJSONStreams checks that the streamed encoding is byte for byte
// the encoding of the whole report.
func TestWriteJSONStreams(t *testing.T) {
	for _, n := range []int{0, 1, 3} {
		r := sampleReport(n)
		if n == 0 {
			r.Changes = []Finding{}
		}
		var got, want bytes.Buffer
		if err := r.WriteJSON(&got); err != nil {
			t.Fatal(err)
		}
		enc := json.NewEncoder(&want)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(r); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Errorf("n=%d: streamed JSON differs:\n got: %s\nwant: %s", n, got.String(), want.String())
		}
	}
}

func TestWriteTextMaxDetails(t *testing.T) {
	r := sampleReport(5)
	var b strings.Builder
	if err := r.WriteTextWith(&b, TextOptions{MaxDetails: 2}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"symbol-removed     break     5 ", // the summary counts all five
		"ns::Widget0()",                   // C++ names demangled in details
		"class ns::Widget<int> — affects ns::Widget<int>::draw()", // grouped by type, affected demangled
		"(+3 more symbol-removed findings not listed: --max-details 2)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "ns::Widget2()") {
		t.Errorf("third symbol-removed finding listed despite --max-details 2:\n%s", out)
	}
	if strings.Contains(out, "_ZN2ns") {
		t.Errorf("mangled name in text report:\n%s", out)
	}
}
