package gate

import (
	"fmt"
	"os"
	"strings"

	"github.com/compatgate/compatgate/gate/queue"
)

// SystemctlRestart is the default restart action of processes that run in
// a systemd unit.
const SystemctlRestart = `systemctl restart "$COMPATGATE_TARGET_UNIT"`

// DefaultRestart is the restart action for targets when none is
// configured: through systemd (systemctl restart of each process's unit,
// found in /proc/PID/cgroup; pids[i] is the process of targets[i]) when
// every target is, or runs in, a system unit; otherwise manual, with the
// targets unchanged: an operator restarts them and closes the entry.
func DefaultRestart(targets []queue.Target, pids []int) (queue.Action, []queue.Target) {
	var units []queue.Target
	seen := map[string]bool{}
	for i, t := range targets {
		unit := ""
		if t.Kind == queue.TargetUnit {
			unit = t.Value
		} else if i < len(pids) {
			unit = SystemdUnit(pids[i])
		}
		if unit == "" {
			return queue.Action{Kind: queue.ActionManual}, targets
		}
		if !seen[unit] {
			seen[unit] = true
			units = append(units, queue.Target{Kind: queue.TargetUnit, Value: unit})
		}
	}
	if len(units) == 0 {
		return queue.Action{Kind: queue.ActionManual}, targets
	}
	return queue.Action{Kind: queue.ActionCommand, Command: SystemctlRestart}, units
}

// SystemdUnit returns the systemd system service that process pid runs in,
// from /proc/PID/cgroup; "" when there is none (or it is a user's service,
// which systemctl restart would not reach).
func SystemdUnit(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return ""
	}
	return unitOfCgroup(string(b))
}

// unitOfCgroup finds the service in the text of /proc/PID/cgroup: in the
// unified hierarchy ("0::/system.slice/foo.service") or, on a legacy one,
// systemd's named hierarchy ("1:name=systemd:/system.slice/foo.service").
func unitOfCgroup(text string) string {
	var unified, named string
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "":
			unified = parts[2]
		case parts[1] == "name=systemd":
			named = parts[2]
		}
	}
	for _, path := range []string{named, unified} {
		comps := strings.Split(path, "/")
		if strings.HasPrefix(path, "/user.slice/") {
			continue // a user's manager's units
		}
		for i := len(comps) - 1; i >= 0; i-- {
			if c := comps[i]; strings.HasSuffix(c, ".service") && !strings.ContainsAny(c, " \t\n") {
				return c
			}
		}
	}
	return ""
}
