//go:build unix

package main

// gateCommands returns the commands that act on libraries, processes and
// the restart queue: they need a Unix system (process groups, signals, the
// embedded database).
func gateCommands() []command {
	return []command{
		{"queue", "list, show, cancel and run the scheduled restarts", runQueue},
		{"log", "show the audit log of decisions and actions", runLog},
		{"upgrade", "check, install and hot-apply or queue a new build of a library", runUpgrade},
		{"rollback", "reinstall a library's previous build and revert hot upgrades", runRollback},
		{"serve", "watch release directories and upgrade subscribed libraries", runServe},
	}
}
