package compat

import (
	"github.com/compatgate/compatgate/elfdiff"
	"github.com/compatgate/compatgate/rules"
)

// Check loads two versions of a library, compares them and judges the
// changes with the rule set rs (rules.Default() when nil).
func Check(oldPath, newPath string, rs *rules.Set) (*Report, error) {
	if rs == nil {
		rs = rules.Default()
	}
	old, err := elfdiff.Load(oldPath)
	if err != nil {
		return nil, err
	}
	new, err := elfdiff.Load(newPath)
	if err != nil {
		return nil, err
	}
	changes, err := elfdiff.Diff(old, new)
	if err != nil {
		return nil, err
	}
	return Judge(old, new, changes, rs), nil
}
