package compat

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/compatgate/compatgate/elfdiff"
	"github.com/compatgate/compatgate/rules"
)

// sampleReport returns a report with n symbol findings of one rule and a
// type finding.
func sampleReport(n int) *Report {
	list := []elfdiff.Change{{Kind: elfdiff.TypeSizeChanged, Type: "class ns::Widget<int>",
		Affected: []string{"_ZN2ns6WidgetIiE4drawEv"}, Old: "8", New: "16",
		Detail: "size of class ns::Widget<int> changed from 8 to 16 bytes",
		Path:   "_ZN2ns6WidgetIiE4drawEv → this", Facts: elfdiff.FactSize,
		Decl: elfdiff.Position{File: "/src/include/ns/widget.h", Line: 12}}}
	for i := 0; i < n; i++ {
		sym := fmt.Sprintf("_ZN2ns7Widget%dEv", i)
		list = append(list, elfdiff.Change{Kind: elfdiff.SymbolRemoved, Symbol: sym, SymbolType: "FUNC",
			Affected: []string{sym}, Detail: "FUNC " + sym + " removed"})
	}
	r := &Report{Schema: SchemaVersion, Old: Library{Path: "old.so"}, New: Library{Path: "new.so"}, TypesChecked: true}
	r.judge(elfdiff.NewChanges(list), rules.Default())
	return r
}

// TestWriteJSONStreams checks that the streamed encoding is byte for byte
// the encoding of the whole report by encoding/json, findings included.
func TestWriteJSONStreams(t *testing.T) {
	for _, n := range []int{0, 1, 3} {
		r := sampleReport(n)
		if n == 0 {
			r = &Report{Schema: SchemaVersion, Verdict: Compatible}
			r.judge(elfdiff.NewChanges(nil), rules.Default())
		}
		var got, want bytes.Buffer
		if err := r.WriteJSON(&got); err != nil {
			t.Fatal(err)
		}
		enc := json.NewEncoder(&want)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(reportJSON{(*reportFields)(r), append([]Finding{}, slices.Collect(r.Findings())...)}); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Errorf("n=%d: streamed JSON differs:\n got: %s\nwant: %s", n, got.String(), want.String())
		}
		if n > 0 && !strings.Contains(got.String(), `"rule": "symbol-removed"`) {
			t.Errorf("n=%d: findings missing:\n%s", n, got.String())
		}
		m, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		// json.Marshal compacts the encoding and escapes HTML characters.
		var compact, escaped bytes.Buffer
		if err := json.Compact(&compact, got.Bytes()); err != nil {
			t.Fatal(err)
		}
		json.HTMLEscape(&escaped, compact.Bytes())
		if !bytes.Equal(m, escaped.Bytes()) {
			t.Errorf("n=%d: json.Marshal differs from WriteJSON:\n got: %s\nwant: %s", n, m, escaped.Bytes())
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
		"symbol-removed    break     5 ", // the summary counts all five
		"ns::Widget0()",                  // C++ names demangled in details
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
