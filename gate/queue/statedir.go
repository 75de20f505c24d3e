package queue

import (
	"errors"
	"os"
	"path/filepath"
)

// DefaultStateDir returns where compatgate keeps its state when not told:
// /var/lib/compatgate for root; otherwise $XDG_STATE_HOME/compatgate, or
// ~/.local/state/compatgate when XDG_STATE_HOME is unset or not absolute.
func DefaultStateDir() (string, error) {
	if os.Geteuid() == 0 {
		return "/var/lib/compatgate", nil
	}
	if x := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(x) {
		return filepath.Join(x, "compatgate"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return "", errors.New("no state directory: set --state-dir, XDG_STATE_HOME or HOME")
	}
	return filepath.Join(home, ".local", "state", "compatgate"), nil
}
