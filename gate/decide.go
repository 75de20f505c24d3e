package gate

import (
	"fmt"
	"strings"

	"github.com/compatgate/compatgate/compat"
	"github.com/compatgate/compatgate/rules"
)

// Action is what the gate decides to do with an upgrade.
type Action string

// The actions.
const (
	// HotApply loads NEW into the running processes (they keep their PID).
	HotApply Action = "hot-apply"
	// Restart queues a restart of the processes, in their window.
	Restart Action = "restart"
	// Nothing: NEW is the build already installed.
	Nothing Action = "nothing"
	// Hold: NEW breaks OLD's clients and keeps OLD's SONAME. It is not
	// installed: a held queue entry installs it, in the window, right
	// before the restarts, once an operator approves it.
	Hold Action = "hold"
	// Beside: NEW has another SONAME. It is installed beside OLD, under
	// its own file name and a SONAME symbolic link, never over OLD;
	// running processes keep OLD, and clients must be relinked to use NEW.
	Beside Action = "install-beside"
	// Refuse: NEW is older than the installed build, and the subscription
	// does not allow downgrades.
	Refuse Action = "refuse"
)

// RuleResult is one hot-applicability rule's outcome.
type RuleResult struct {
	Rule       string   `json:"rule"`
	OK         bool     `json:"ok"`
	Violations []string `json:"violations,omitempty"`
}

// Decision is the gate's decision about one upgrade, with its reasons.
type Decision struct {
	Action Action `json:"action"`
	// Reason is one line: why this action.
	Reason string       `json:"reason"`
	Rules  []RuleResult `json:"rules,omitempty"`
	// Findings are the check's findings that decided a hold (or a
	// restart for a verdict other than compatible), as "severity rule:
	// message".
	Findings []string `json:"findings,omitempty"`
	// Drain says the engine may redirect at once and let threads inside
	// OLD finish their calls there (inject.Options.Drain): set exactly
	// when private-layouts-unchanged holds on types compared with debug
	// information for both builds, so OLD's and NEW's code agree on every
	// object either one made.
	Drain bool `json:"drain,omitempty"`
}

// Decide judges an upgrade: nothing to do when NEW is the build OLD already
// is (same build-id, or same bytes); refused when in.Downgrade says NEW is
// older; beside OLD when NEW has another SONAME; held for approval when the
// verdict is incompatible (or review, with in.HoldReview); hot-apply when
// every rule of HotRules holds; otherwise a restart, with every violation
// as the reason.
func Decide(in Input) Decision {
	if in.Old.SHA256 == in.New.SHA256 || (in.Old.BuildID != "" && in.Old.BuildID == in.New.BuildID) {
		return Decision{Action: Nothing, Reason: "NEW is the build already installed (build-id " + orNone(in.New.BuildID) + ")"}
	}
	if in.Downgrade != "" {
		return Decision{Action: Refuse, Reason: in.Downgrade}
	}
	if in.Old.Soname != "" && in.New.Soname != "" && in.Old.Soname != in.New.Soname {
		return Decision{Action: Beside, Reason: fmt.Sprintf("NEW has another SONAME (%s, OLD's is %s): installed beside OLD, never over it; running processes keep OLD, and clients must be relinked against %s to use NEW",
			in.New.Soname, in.Old.Soname, in.New.Soname)}
	}
	var findings []string
	if in.Report != nil && in.Report.Verdict != compat.Compatible {
		findings = decidingFindings(in.Report)
	}
	if in.Report != nil && (in.Report.Verdict == compat.Incompatible || in.Report.Verdict == compat.Review && in.HoldReview) {
		return Decision{Action: Hold, Findings: findings,
			Reason: fmt.Sprintf("the check's verdict is %s (%d break, %d warn): NEW is not installed; held until approved (compatgate queue approve)",
				in.Report.Verdict, in.Report.Summary.Break, in.Report.Summary.Warn)}
	}
	d := Decision{Action: HotApply, Findings: findings}
	var why []string
	for _, r := range HotRules() {
		var v []string
		if r.NeedsDebug {
			v = withoutDebug(in)
		}
		v = append(v, r.violations(in)...)
		d.Rules = append(d.Rules, RuleResult{Rule: r.ID, OK: len(v) == 0, Violations: v})
		if r.Drains && len(v) == 0 && in.Report != nil && in.Report.TypesChecked {
			d.Drain = true
		}
		for _, s := range v {
			why = append(why, r.ID+": "+s)
		}
	}
	if len(why) > 0 {
		d.Action, d.Drain = Restart, false
		d.Reason = "not hot-applicable: " + strings.Join(why, "; ")
		return d
	}
	d.Reason = "compatible, and every hot-applicability rule holds"
	return d
}

// maxFindings bounds the findings a decision lists.
const maxFindings = 20

// decidingFindings lists the findings of r that break clients, then those
// that need review: "severity rule: message", at most maxFindings, then
// how many more there are.
func decidingFindings(r *compat.Report) []string {
	var out []string
	n := 0
	for _, sev := range []rules.Severity{rules.Break, rules.Warn} {
		for f := range r.Findings() {
			if f.Severity != sev {
				continue
			}
			n++
			if len(out) < maxFindings {
				out = append(out, fmt.Sprintf("%s %s: %s", f.Severity, f.Rule, f.Message))
			}
		}
	}
	if n > len(out) {
		out = append(out, fmt.Sprintf("… and %d more (compatgate check OLD NEW)", n-len(out)))
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
