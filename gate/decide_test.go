package gate

import (
	"slices"
	"strings"
	"testing"

	"github.com/compatgate/compatgate/compat"
)

func TestDecide(t *testing.T) {
	requireGCC(t)
	dir := t.TempDir()
	v1 := buildLib(t, dir, "v1.so", "-DVERSION=1")
	tests := []struct {
		name      string
		old       []string // OLD's flags, when not -DVERSION=1
		flags     []string
		same      bool // NEW is v1 itself
		hotApply  bool
		noDebugOK bool // hot_apply_without_debug
		noEngine  string
		downgrade string
		want      Action
		failing   []string // rules that fail
		reasonHas string   // what the reason must say
		drain     bool     // the engine may drain threads from OLD
	}{
		{name: "compatible", flags: []string{"-DVERSION=2"}, hotApply: true, want: HotApply, drain: true},
		{name: "same build", same: true, hotApply: true, want: Nothing},
		{name: "policy forbids", flags: []string{"-DVERSION=2"}, want: Restart, failing: []string{"policy-allows"}},
		{name: "no engine", flags: []string{"-DVERSION=2"}, hotApply: true, noEngine: "test", want: Restart, failing: []string{"engine-available"}},
		{name: "private state", flags: []string{"-DVERSION=2", "-DPRIVATE_STATE"}, hotApply: true, want: Restart, failing: []string{"no-new-writable-state"}},
		{name: "no debug information", flags: []string{"-DVERSION=2", "-g0"}, hotApply: true, want: Restart, failing: []string{"verdict-compatible", "private-layouts-unchanged"},
			reasonHas: "private-layouts-unchanged: types not compared: no debug information for NEW (hot_apply_without_debug"},
		{name: "no debug information, allowed", flags: []string{"-DVERSION=2", "-g0"}, hotApply: true, noDebugOK: true, want: HotApply},
		{name: "no debug information, allowed, private state", flags: []string{"-DVERSION=2", "-g0", "-DPRIVATE_STATE"}, hotApply: true, noDebugOK: true, want: Restart, failing: []string{"no-new-writable-state"}},
		{name: "private layout", flags: []string{"-DVERSION=2", "-DPRIVATE_LAYOUT"}, hotApply: true, want: Restart, failing: []string{"private-layouts-unchanged"},
			reasonHas: "private-layouts-unchanged: private type struct demo_handle changed (private-type-size-changed): size of struct demo_handle changed"},
		{name: "static data layout", old: []string{"-DVERSION=1", "-DSTATS"}, flags: []string{"-DVERSION=2", "-DSTATS", "-DSTATIC_LAYOUT"}, hotApply: true, want: Restart, failing: []string{"private-layouts-unchanged"},
			reasonHas: "private type struct demo_stats changed (private-member-moved)"},
		{name: "private layout, allowed without debug", flags: []string{"-DVERSION=2", "-DPRIVATE_LAYOUT"}, hotApply: true, noDebugOK: true, want: Restart, failing: []string{"private-layouts-unchanged"}},
		{name: "data grows", flags: []string{"-DVERSION=2", "-DBIG_DATA"}, hotApply: true, want: Hold},
		{name: "symbol removed", flags: []string{"-DVERSION=2", "-DDROP"}, hotApply: true, want: Hold},
		{name: "new SONAME", flags: []string{"-DVERSION=2", "-DDROP", "-Wl,-soname,libdemo.so.2"}, hotApply: true, want: Beside},
		{name: "downgrade", flags: []string{"-DVERSION=2"}, hotApply: true, downgrade: "older", want: Refuse},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v1 := v1
			if tc.old != nil {
				v1 = buildLib(t, t.TempDir(), "old.so", tc.old...)
			}
			newPath := v1
			if !tc.same {
				newPath = buildLib(t, t.TempDir(), "new.so", tc.flags...)
			}
			oldF, err := ReadFacts(v1)
			if err != nil {
				t.Fatal(err)
			}
			newF, err := ReadFacts(newPath)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := compat.Check(v1, newPath, nil)
			if err != nil {
				t.Fatal(err)
			}
			d := Decide(Input{Report: rep, Old: oldF, New: newF, HotApply: tc.hotApply, NoEngine: tc.noEngine, Downgrade: tc.downgrade, WithoutDebug: tc.noDebugOK})
			if d.Action != tc.want {
				t.Errorf("action %s, want %s (reason: %s)", d.Action, tc.want, d.Reason)
			}
			var failing []string
			for _, r := range d.Rules {
				if !r.OK {
					failing = append(failing, r.Rule)
				}
			}
			if !slices.Equal(failing, tc.failing) {
				t.Errorf("failing rules %v, want %v (reason: %s)", failing, tc.failing, d.Reason)
			}
			if d.Drain != tc.drain {
				t.Errorf("drain %v, want %v", d.Drain, tc.drain)
			}
			if d.Reason == "" {
				t.Error("no reason")
			}
			if !strings.Contains(d.Reason, tc.reasonHas) {
				t.Errorf("reason %q does not say %q", d.Reason, tc.reasonHas)
			}
			// A hold names the findings that decided it.
			if d.Action == Hold && (len(d.Findings) == 0 || !strings.HasPrefix(d.Findings[0], "break ")) {
				t.Errorf("hold without its breaking findings: %q", d.Findings)
			}
		})
	}
}

// A review verdict is held only when the subscription says so.
func TestDecideHoldReview(t *testing.T) {
	old := &Facts{SHA256: "a", BuildID: "1"}
	new := &Facts{SHA256: "b", BuildID: "2"}
	rep := &compat.Report{Verdict: compat.Review, Summary: compat.Summary{Warn: 1}}
	if d := Decide(Input{Report: rep, Old: old, New: new, HotApply: true}); d.Action != Restart {
		t.Errorf("review: %s, want restart", d.Action)
	}
	if d := Decide(Input{Report: rep, Old: old, New: new, HotApply: true, HoldReview: true}); d.Action != Hold {
		t.Errorf("review with hold_review: %s, want hold", d.Action)
	}
}

func TestHotRulesDocumented(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range HotRules() {
		if r.ID == "" || r.Doc == "" || r.violations == nil || seen[r.ID] {
			t.Errorf("rule %+v: missing id, doc or check, or duplicate id", r)
		}
		seen[r.ID] = true
	}
}

func TestWorst(t *testing.T) {
	tests := []struct {
		in   []Status
		want Status
	}{
		{nil, StatusOK},
		{[]Status{StatusOK, StatusNotLoaded}, StatusNotLoaded},
		{[]Status{StatusQueued, StatusOK}, StatusQueued},
		{[]Status{StatusBusy, StatusError, StatusOK}, StatusError},
		{[]Status{StatusHeld, StatusQueued}, StatusHeld},
	}
	for _, tc := range tests {
		var ps []ProcessResult
		for _, s := range tc.in {
			ps = append(ps, ProcessResult{Status: s})
		}
		if got := Worst(ps, StatusOK); got != tc.want {
			t.Errorf("Worst(%v) = %s, want %s", tc.in, got, tc.want)
		}
	}
}
