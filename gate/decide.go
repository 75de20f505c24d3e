package gate

import "strings"

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
}

// Decide judges an upgrade: nothing to do when NEW is the build OLD already
// is (same build-id, or same bytes); hot-apply when every rule of HotRules
// holds; otherwise a restart, with every violation as the reason.
func Decide(in Input) Decision {
	if in.Old.SHA256 == in.New.SHA256 || (in.Old.BuildID != "" && in.Old.BuildID == in.New.BuildID) {
		return Decision{Action: Nothing, Reason: "NEW is the build already installed (build-id " + orNone(in.New.BuildID) + ")"}
	}
	d := Decision{Action: HotApply}
	var why []string
	for _, r := range HotRules() {
		v := r.violations(in)
		d.Rules = append(d.Rules, RuleResult{Rule: r.ID, OK: len(v) == 0, Violations: v})
		why = append(why, v...)
	}
	if len(why) > 0 {
		d.Action = Restart
		d.Reason = "not hot-applicable: " + strings.Join(why, "; ")
		return d
	}
	d.Reason = "compatible, and every hot-applicability rule holds"
	return d
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
