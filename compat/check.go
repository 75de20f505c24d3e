package compat

import (
	"github.com/compatgate/compatgate/elfdiff"
	"github.com/compatgate/compatgate/rules"
)

// Options tune a check.
type Options struct {
	// Rules judge the changes; rules.Default() when nil.
	Rules *rules.Set
	// DebugDirs are searched for separate debug files, before
	// /usr/lib/debug (see elfdiff.LoadOptions).
	DebugDirs []string
}

// Check loads two versions of a library, compares them and judges the
// changes with the rule set rs (rules.Default() when nil).
func Check(oldPath, newPath string, rs *rules.Set) (*Report, error) {
	return CheckWith(oldPath, newPath, Options{Rules: rs})
}

// CheckWith is Check with options.
func CheckWith(oldPath, newPath string, opts Options) (*Report, error) {
	rs := opts.Rules
	if rs == nil {
		rs = rules.Default()
	}
	lo := elfdiff.LoadOptions{DebugDirs: opts.DebugDirs}
	old, err := elfdiff.LoadWith(oldPath, lo)
	if err != nil {
		return nil, err
	}
	new, err := elfdiff.LoadWith(newPath, lo)
	if err != nil {
		return nil, err
	}
	changes, err := elfdiff.Diff(old, new)
	if err != nil {
		return nil, err
	}
	return Judge(old, new, changes, rs), nil
}
