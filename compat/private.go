package compat

import (
	"fmt"
	"strings"
)

// PrivateLayoutChanges lists the types that are not public API in which
// the check found changes (its private-* findings on a type): harmless to
// clients, which cannot see inside those types, but not to a hot upgrade,
// after which NEW's code works on objects OLD created. Each type is listed
// once, with its size change when it has one, else its first change, and
// how many more it has; at most max types, then how many more there are.
func (r *Report) PrivateLayoutChanges(max int) []string {
	type changed struct {
		typ, rule, what string
		n               int
	}
	var types []*changed
	byType := map[string]*changed{}
	for f := range r.Findings() {
		if f.Type == "" || !strings.HasPrefix(f.Rule, "private-") {
			continue
		}
		// The message's first clause says what changed; the rest is why
		// clients do not care.
		what, _, _ := strings.Cut(f.Message, "; ")
		c := byType[f.Type]
		if c == nil {
			c = &changed{typ: f.Type, rule: f.Rule, what: what}
			byType[f.Type] = c
			types = append(types, c)
		} else if f.Rule == "private-type-size-changed" {
			c.rule, c.what = f.Rule, what
		}
		c.n++
	}
	var v []string
	for _, c := range types[:min(len(types), max)] {
		s := fmt.Sprintf("private type %s changed (%s): %s", c.typ, c.rule, c.what)
		if c.n > 1 {
			s += fmt.Sprintf(", and %d more change(s) in it", c.n-1)
		}
		v = append(v, s)
	}
	if len(types) > max {
		v = append(v, fmt.Sprintf("and %d more changed private type(s)", len(types)-max))
	}
	return v
}

// MissingDebug names the builds whose debug information the check lacked
// ("OLD", "NEW", "OLD and NEW"), or "" when it compared the types or left
// them by choice (--symbols-only).
func (r *Report) MissingDebug() string {
	sides := make([]string, len(r.DebugMissing))
	for i, s := range r.DebugMissing {
		sides[i] = strings.ToUpper(s)
	}
	return strings.Join(sides, " and ")
}
