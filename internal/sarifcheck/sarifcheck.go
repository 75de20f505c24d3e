// Package sarifcheck validates SARIF logs in tests with Microsoft's SARIF
// Multitool (npm package @microsoft/sarif-multitool), which checks a log
// against the SARIF 2.1.0 schema and the specification's rules.
package sarifcheck

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// DefaultPrefix is where .ci/run installs the multitool with
// npm install --prefix.
const DefaultPrefix = "/var/cache/compatgate-npm"

// Tool returns the path of the sarif-multitool command: $SARIF_MULTITOOL,
// else the one on $PATH, else the one under DefaultPrefix; "" when there
// is none.
func Tool() string {
	if p := os.Getenv("SARIF_MULTITOOL"); p != "" {
		return p
	}
	if p, err := exec.LookPath("sarif-multitool"); err == nil {
		return p
	}
	p := filepath.Join(DefaultPrefix, "node_modules", ".bin", "sarif-multitool")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ""
}

// Validate runs "sarif-multitool validate" on the log at path and fails
// the test for every result of level error it reports (invalid against
// the schema or the specification); warnings are logged. The test is
// skipped when the multitool is not installed (bash .ci/run installs it).
func Validate(t testing.TB, path string) {
	t.Helper()
	tool := Tool()
	if tool == "" {
		t.Skip("sarif-multitool not installed (npm install --prefix " + DefaultPrefix + " @microsoft/sarif-multitool; .ci/run does)")
	}
	out := filepath.Join(t.TempDir(), "validation.sarif")
	cmd := exec.Command(tool, "validate", "--output", out, path)
	cmd.Env = append(os.Environ(), "DOTNET_CLI_TELEMETRY_OPTOUT=1")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sarif-multitool validate %s: %v\n%s", path, err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("reading the multitool's log: %v", err)
	}
	var log struct {
		Runs []struct {
			Results []struct {
				RuleID  string `json:"ruleId"`
				Level   string `json:"level"`
				Message struct {
					ID        string   `json:"id"`
					Text      string   `json:"text"`
					Arguments []string `json:"arguments"`
				} `json:"message"`
			} `json:"results"`
			Invocations []struct {
				ExecutionSuccessful bool `json:"executionSuccessful"`
			} `json:"invocations"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(data, &log); err != nil {
		t.Fatalf("the multitool's log is not JSON: %v", err)
	}
	if len(log.Runs) == 0 {
		t.Fatalf("the multitool's log has no run:\n%s", data)
	}
	for _, run := range log.Runs {
		for _, inv := range run.Invocations {
			if !inv.ExecutionSuccessful {
				t.Errorf("sarif-multitool validate did not run successfully:\n%s", data)
			}
		}
		for _, r := range run.Results {
			if r.Level == "error" {
				t.Errorf("SARIF invalid: %s %s %v", r.RuleID, r.Message.Text, r.Message.Arguments)
			} else {
				t.Logf("SARIF %s: %s %v", r.RuleID, r.Message.ID, r.Message.Arguments)
			}
		}
	}
}
