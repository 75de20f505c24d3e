// Package rules is the catalogue of binary-compatibility rules: for every
// kind of change elfdiff reports, a stable rule id, a severity, the
// condition under which the rule applies, and why.
package rules

import (
	"fmt"

	"github.com/compatgate/compatgate/elfdiff"
)

// A Severity says what a finding means for clients built against the old
// version of a library.
type Severity int

// Severities, from harmless to breaking.
const (
	Info  Severity = iota // no effect on existing clients
	Warn                  // may affect some clients: a person should review it
	Break                 // existing clients fail, crash or compute wrong results
)

var severityNames = [...]string{Info: "info", Warn: "warn", Break: "break"}

func (s Severity) String() string {
	if s < 0 || int(s) >= len(severityNames) {
		return fmt.Sprintf("Severity(%d)", int(s))
	}
	return severityNames[s]
}

// MarshalText encodes the severity as its name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText decodes a severity name.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err == nil {
		*s = v
	}
	return err
}

// ParseSeverity returns the severity named name.
func ParseSeverity(name string) (Severity, error) {
	for i, n := range severityNames {
		if n == name {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q (want info, warn or break)", name)
}

// A Rule classifies one kind of change, under one condition.
type Rule struct {
	ID        string       // stable kebab-case identifier
	Kind      elfdiff.Kind // the change it classifies
	Severity  Severity
	When      func(elfdiff.Change) bool // nil: always
	Rationale string                    // why, in one line, for the report
}

// A Set is an ordered collection of rules. The rules of one kind are tried
// in order and the first whose condition holds applies.
type Set struct {
	byKind map[elfdiff.Kind][]Rule
	ids    map[string]Rule
}

// NewSet returns a set of the given rules. Rule ids must be unique.
func NewSet(rules []Rule) (*Set, error) {
	s := &Set{byKind: make(map[elfdiff.Kind][]Rule), ids: make(map[string]Rule)}
	for _, r := range rules {
		if _, dup := s.ids[r.ID]; dup {
			return nil, fmt.Errorf("rule %s defined twice", r.ID)
		}
		s.ids[r.ID] = r
		s.byKind[r.Kind] = append(s.byKind[r.Kind], r)
	}
	return s, nil
}

// Default returns the set of the built-in catalogue.
func Default() *Set {
	s, err := NewSet(Catalogue())
	if err != nil {
		panic(err) // the catalogue is a constant; TestCatalogue keeps it sound
	}
	return s
}

// Match returns the rule that classifies c. A change no rule covers is
// classified as needing review, under the change's own kind as rule id, so
// an unknown change is never waved through.
func (s *Set) Match(c elfdiff.Change) Rule {
	for _, r := range s.byKind[c.Kind] {
		if r.When == nil || r.When(c) {
			return r
		}
	}
	return Rule{ID: string(c.Kind), Kind: c.Kind, Severity: Warn,
		Rationale: "no rule classifies this change; review it"}
}

// Rule returns the rule with the given id.
func (s *Set) Rule(id string) (Rule, bool) {
	r, ok := s.ids[id]
	return r, ok
}
