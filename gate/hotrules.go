package gate

import (
	"fmt"
	"sort"

	"github.com/compatgate/compatgate/compat"
	"github.com/compatgate/compatgate/rules"
)

// Input is what Decide judges: the check's report, the facts about both
// builds, and the subscription's policy.
type Input struct {
	Report *compat.Report
	Old    *Facts
	New    *Facts
	// HotApply is the policy: whether hot-apply is allowed at all for this
	// library (a subscription's hot_apply, or upgrade's default).
	HotApply bool
	// NoEngine, when not empty, says why no injection engine is available.
	NoEngine string
	// Downgrade, when not empty, says why NEW is an older version than
	// the one installed (and the subscription does not allow that).
	Downgrade string
	// HoldReview holds upgrades whose verdict is review, as incompatible
	// ones are.
	HoldReview bool
	// WithoutDebug allows hot-apply when the types were not compared (no
	// debug information for one build or both): the rules that judge
	// types then hold on what the symbol tables show (a subscription's
	// hot_apply_without_debug).
	WithoutDebug bool
}

// HotRule is one condition a hot upgrade requires (DESIGN.md,
// "Hot-applicability"). The conditions the engine can only judge inside a
// running process — every replaced entry redirectable, no thread inside
// the old library at the switch — are the engine's; it reports busy or
// refused for the process, and the gate queues its restart.
type HotRule struct {
	ID  string `json:"id"`
	Doc string `json:"doc"`
	// NeedsDebug marks a rule judged on the types the check compared:
	// without debug information for both builds it fails, naming the
	// builds without it, unless Input.WithoutDebug.
	NeedsDebug bool `json:"needs_debug,omitempty"`
	// Drains marks the rule that, holding on types compared with debug
	// information for both builds, lets the engine drain threads from OLD
	// (Decision.Drain).
	Drains bool `json:"drains,omitempty"`
	// violations returns why the rule fails for in; none means it holds.
	violations func(in Input) []string
}

// HotRules returns the hot-applicability rules, in the order they are
// reported.
func HotRules() []HotRule {
	return []HotRule{
		{ID: "verdict-compatible", Doc: "the check found the upgrade compatible: no finding needs review or breaks clients",
			NeedsDebug: true, violations: verdictCompatible},
		{ID: "data-keeps-type-and-size", Doc: "every exported variable keeps its type and size: NEW's code binds to the storage OLD's clients use",
			violations: dataKeepsShape},
		{ID: "no-new-writable-state", Doc: "NEW adds no exported variable, library-private writable object or thread-local storage that running code would need initialised",
			violations: noNewState},
		{ID: "private-layouts-unchanged", Doc: "every type the exported API or the library's private static data reaches, private and opaque ones included, keeps its layout: NEW's code works on objects OLD created (the state behind an opaque handle); threads inside OLD may then finish their calls there",
			NeedsDebug: true, Drains: true, violations: privateLayoutsUnchanged},
		{ID: "policy-allows", Doc: "the subscription allows hot-apply", violations: policyAllows},
		{ID: "engine-available", Doc: "an injection engine is available on this host", violations: engineAvailable},
	}
}

func verdictCompatible(in Input) []string {
	if in.Report == nil {
		return []string{"no check report"}
	}
	r := in.Report
	if r.Verdict == compat.Compatible || r.Verdict == compat.Review && !r.TypesChecked && r.Summary.Break == 0 && r.Summary.Warn == 0 {
		// A review for want of debug information alone is judged by
		// withoutDebug.
		return nil
	}
	return []string{fmt.Sprintf("the check's verdict is %s (%d break, %d warn)",
		in.Report.Verdict, in.Report.Summary.Break, in.Report.Summary.Warn)}
}

func dataKeepsShape(in Input) []string {
	var v []string
	for _, name := range sortedKeys(in.New.Data) {
		n := in.New.Data[name]
		o, ok := in.Old.Data[name]
		if !ok {
			continue // no-new-writable-state's
		}
		if o.Type != n.Type {
			v = append(v, fmt.Sprintf("exported variable %s changes from %s to %s", name, o.Type, n.Type))
		}
		if o.Size != n.Size {
			v = append(v, fmt.Sprintf("exported variable %s changes size from %d to %d bytes", name, o.Size, n.Size))
		}
	}
	// Findings of the check that reach exported data by type.
	if in.Report != nil {
		for f := range in.Report.Findings() {
			if f.Severity == rules.Info {
				continue
			}
			for _, s := range f.Affected {
				if _, ok := in.Old.Data[s]; ok && f.Type != "" {
					v = append(v, fmt.Sprintf("exported variable %s reaches a changed type %s (%s)", s, f.Type, f.Rule))
				}
			}
		}
	}
	return v
}

func noNewState(in Input) []string {
	var v []string
	if in.New.TLS && !in.Old.TLS {
		v = append(v, "NEW adds thread-local storage")
	}
	for _, name := range sortedKeys(in.New.Data) {
		if _, ok := in.Old.Data[name]; !ok {
			v = append(v, fmt.Sprintf("NEW adds exported variable %s", name))
		}
	}
	if in.New.Symtab && in.Old.Symtab {
		for _, name := range sortedKeys(in.New.Private) {
			size := in.New.Private[name]
			if old, ok := in.Old.Private[name]; !ok || size > old {
				v = append(v, fmt.Sprintf("NEW adds library-private writable object %s (%d bytes)", name, size))
			}
		}
	} else if in.New.Writable > in.Old.Writable {
		v = append(v, fmt.Sprintf("NEW's writable data grows from %d to %d bytes (no symbol table to say what it holds)", in.Old.Writable, in.New.Writable))
	}
	return v
}

// withoutDebug is why a rule that needs debug information (see
// HotRule.NeedsDebug) fails when the check compared no types.
func withoutDebug(in Input) []string {
	if in.Report == nil || in.Report.TypesChecked || in.WithoutDebug {
		return nil
	}
	why := "types not compared (symbols only)"
	if sides := in.Report.MissingDebug(); sides != "" {
		why = "types not compared: no debug information for " + sides
	}
	return []string{why + " (hot_apply_without_debug, or upgrade --hot-apply-without-debug, allows hot-apply without it)"}
}

func policyAllows(in Input) []string {
	if in.HotApply {
		return nil
	}
	return []string{"hot-apply is not allowed for this library (policy)"}
}

func engineAvailable(in Input) []string {
	if in.NoEngine == "" {
		return nil
	}
	return []string{"no injection engine: " + in.NoEngine}
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// maxLayoutTypes bounds the changed private types a decision lists.
const maxLayoutTypes = 5

func privateLayoutsUnchanged(in Input) []string {
	if in.Report == nil {
		return []string{"no check report"}
	}
	return in.Report.PrivateLayoutChanges(maxLayoutTypes)
}
