package queue

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// targetEnv returns the environment variables that describe target number i
// of e to its restart action and health command:
//
//	COMPATGATE_ENTRY_ID       the entry ID
//	COMPATGATE_ATTEMPT        the attempt number, from 1
//	COMPATGATE_LIBRARY        the library path
//	COMPATGATE_FROM_BUILD_ID, COMPATGATE_FROM_PATH, COMPATGATE_TO_BUILD_ID, COMPATGATE_TO_PATH
//	COMPATGATE_TARGET         the target as kind=value
//	COMPATGATE_TARGET_INDEX   its position in the entry, from 0
//	COMPATGATE_TARGET_KIND    pid, unit, pidfile or command
//	COMPATGATE_TARGET_VALUE   the value
//	COMPATGATE_TARGET_PID     for pid targets, and pidfile targets whose file holds a PID
//	COMPATGATE_TARGET_UNIT    for unit targets
func targetEnv(e Entry, i int) []string {
	t := e.Targets[i]
	env := []string{
		"COMPATGATE_ENTRY_ID=" + strconv.FormatInt(e.ID, 10),
		"COMPATGATE_ATTEMPT=" + strconv.Itoa(e.Attempts),
		"COMPATGATE_LIBRARY=" + e.Library,
		"COMPATGATE_FROM_BUILD_ID=" + e.From.BuildID,
		"COMPATGATE_FROM_PATH=" + e.From.Path,
		"COMPATGATE_TO_BUILD_ID=" + e.To.BuildID,
		"COMPATGATE_TO_PATH=" + e.To.Path,
		"COMPATGATE_TARGET=" + t.String(),
		"COMPATGATE_TARGET_INDEX=" + strconv.Itoa(i),
		"COMPATGATE_TARGET_KIND=" + string(t.Kind),
		"COMPATGATE_TARGET_VALUE=" + t.Value,
	}
	switch t.Kind {
	case TargetPID:
		env = append(env, "COMPATGATE_TARGET_PID="+t.Value)
	case TargetPIDFile:
		if pid, err := readPIDFile(t.Value); err == nil {
			env = append(env, "COMPATGATE_TARGET_PID="+strconv.Itoa(pid))
		}
	case TargetUnit:
		env = append(env, "COMPATGATE_TARGET_UNIT="+t.Value)
	}
	return env
}

// readPIDFile reads the PID held in a PID file.
func readPIDFile(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("reading PID file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("PID file %s holds no process ID", path)
	}
	return pid, nil
}
