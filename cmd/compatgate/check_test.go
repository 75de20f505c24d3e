package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compatgate/compatgate/compat"
	"github.com/compatgate/compatgate/internal/casetest"
)

// runCLI runs compatgate in-process with the given arguments.
func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(env{ctx: context.Background(), args: args, stdout: &out, stderr: &errb})
	return code, out.String(), errb.String()
}

// buildCase compiles a testdata case and returns its two libraries.
func buildCase(t *testing.T, name string) (oldSO, newSO string) {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed")
	}
	c, err := casetest.Load(filepath.Join("..", "..", "testdata", name+".txtar"))
	if err != nil {
		t.Fatal(err)
	}
	oldSO, newSO, err = c.Build(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return oldSO, newSO
}

func TestCheckJSON(t *testing.T) {
	tests := []struct {
		name     string
		exit     int
		verdict  compat.Verdict
		rule     string
		severity string
		symbol   string
	}{
		{"sym/function-removed", 12, compat.Incompatible, "symbol-removed", "break", "gone"},
		{"sym/added-only", 0, compat.Compatible, "symbol-added", "info", "api_two"},
		{"sym/soname-changed", 12, compat.Incompatible, "soname-changed", "break", ""},
		{"sym/function-became-ifunc", 4, compat.Review, "symbol-became-ifunc", "warn", "api_sum"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			oldSO, newSO := buildCase(t, tt.name)
			code, stdout, stderr := runCLI("check", "--format", "json", oldSO, newSO)
			if code != tt.exit {
				t.Fatalf("exit = %d, want %d; stderr: %s", code, tt.exit, stderr)
			}
			var r struct {
				Schema  int    `json:"schema"`
				Verdict string `json:"verdict"`
				Old     struct {
					Path, SONAME, BuildID string
				} `json:"old"`
				Changes []map[string]any `json:"changes"`
			}
			if err := json.Unmarshal([]byte(stdout), &r); err != nil {
				t.Fatalf("output is not JSON: %v\n%s", err, stdout)
			}
			if r.Schema != 1 || r.Verdict != string(tt.verdict) || r.Old.Path != oldSO {
				t.Errorf("schema %d verdict %q old.path %q; want 1, %q, %q", r.Schema, r.Verdict, r.Old.Path, tt.verdict, oldSO)
			}
			found := false
			for _, c := range r.Changes {
				for _, key := range []string{"rule", "severity", "symbol", "demangled", "affected", "type", "where", "old", "new", "message"} {
					if _, ok := c[key]; !ok {
						t.Errorf("change %v lacks the contract's field %q", c, key)
					}
				}
				if c["rule"] == tt.rule && c["severity"] == tt.severity && c["symbol"] == tt.symbol {
					found = true
				}
			}
			if !found {
				t.Errorf("no %s %s finding for %q in:\n%s", tt.rule, tt.severity, tt.symbol, stdout)
			}
		})
	}
}

func TestCheckText(t *testing.T) {
	oldSO, newSO := buildCase(t, "sym/function-removed")
	code, stdout, _ := runCLI("check", oldSO, newSO)
	if code != 12 {
		t.Fatalf("exit = %d, want 12", code)
	}
	for _, want := range []string{"symbol-removed", "break", "gone", "verdict: incompatible (1 break, 0 warn, 0 info)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("text report lacks %q:\n%s", want, stdout)
		}
	}
}

// TestCheckBadInput feeds check every kind of bad input: each must give
// exit 1 and exactly one line on stderr naming the file and the problem.
func TestCheckBadInput(t *testing.T) {
	good, _ := buildCase(t, "sym/added-only")
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	patched := func(name string, off int, v uint64, size int) string {
		b := bytes.Clone(data)
		switch size {
		case 2:
			binary.LittleEndian.PutUint16(b[off:], uint16(v))
		case 8:
			binary.LittleEndian.PutUint64(b[off:], v)
		}
		return write(name, b)
	}
	// unbuilt holds why a file compile could not build (gcc without
	// multilib cannot build -m32): its case alone is skipped.
	unbuilt := make(map[string]string)
	compile := func(name string, args ...string) string {
		out := filepath.Join(dir, name)
		src := write(name+".c", []byte("int f(void) { return 1; }\nint main(void) { return f(); }\n"))
		cmd := exec.Command("gcc", append(args, "-o", out, src)...)
		if b, err := cmd.CombinedOutput(); err != nil {
			unbuilt[out] = fmt.Sprintf("cannot build %s: %v\n%s", name, err, b)
		}
		return out
	}

	tests := []struct {
		name string
		file string
		msg  string
	}{
		{"missing", filepath.Join(dir, "nonexistent.so"), "no such file"},
		{"empty", write("empty.so", nil), "not an ELF file"},
		{"text", write("notes.txt", []byte("just some text, not a library\n")), "not an ELF file"},
		{"executable", compile("exe", "-no-pie"), "not a shared object"},
		{"object", compile("obj", "-c"), "not a shared object"},
		{"truncated-header", write("trunc20.so", data[:20]), "truncated"},
		{"truncated-body", write("trunc.so", data[:len(data)/3]), ""},
		{"section-headers-offset", patched("shoff.so", 0x28, 1<<40, 8), ""},
		{"section-count", patched("shnum.so", 0x3c, 0xffff, 2), ""},
		{"program-headers-offset", patched("phoff.so", 0x20, 1<<40, 8), ""},
		{"32-bit-vs-64-bit", compile("lib32.so", "-m32", "-shared", "-fPIC", "-nostdlib"), "different ELF classes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if why, ok := unbuilt[tt.file]; ok {
				t.Skip(why)
			}
			code, stdout, stderr := runCLI("check", tt.file, good)
			if code != exitError {
				t.Errorf("exit = %d, want %d; stdout:\n%s", code, exitError, stdout)
			}
			lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
			if len(lines) != 1 || !strings.HasPrefix(stderr, "compatgate check: ") || !strings.Contains(stderr, filepath.Base(tt.file)) {
				t.Errorf("stderr = %q, want one line naming %s", stderr, filepath.Base(tt.file))
			}
			if !strings.Contains(stderr, tt.msg) {
				t.Errorf("stderr = %q, want it to say %q", stderr, tt.msg)
			}
		})
	}
}

func TestUsage(t *testing.T) {
	tests := []struct {
		args []string
		exit int
	}{
		{nil, exitUsage},
		{[]string{"frobnicate"}, exitUsage},
		{[]string{"help"}, exitOK},
		{[]string{"version"}, exitOK},
		{[]string{"check"}, exitUsage},
		{[]string{"check", "a.so"}, exitUsage},
		{[]string{"check", "--format", "xml", "a.so", "b.so"}, exitUsage},
		{[]string{"check", "--no-such-flag", "a.so", "b.so"}, exitUsage},
	}
	for _, tt := range tests {
		if code, _, _ := runCLI(tt.args...); code != tt.exit {
			t.Errorf("compatgate %v: exit %d, want %d", tt.args, code, tt.exit)
		}
	}
	for _, c := range commands() {
		code, stdout, _ := runCLI(c.name, "--help")
		if code != exitOK || !strings.Contains(stdout, "Usage: compatgate "+c.name) {
			t.Errorf("compatgate %s --help: exit %d, output %q", c.name, code, stdout)
		}
	}
}

// TestCheckMachineChanged checks a library against a copy whose ELF header
// claims another architecture (AArch64): no cross compiler needed.
func TestCheckMachineChanged(t *testing.T) {
	oldSO, _ := buildCase(t, "sym/body-only")
	data, err := os.ReadFile(oldSO)
	if err != nil {
		t.Fatal(err)
	}
	const eMachine, emAArch64 = 0x12, 183
	binary.LittleEndian.PutUint16(data[eMachine:], emAArch64)
	arm := filepath.Join(t.TempDir(), "libarm.so")
	if err := os.WriteFile(arm, data, 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI("check", "--format", "json", oldSO, arm)
	if code != 12 || !strings.Contains(stdout, `"rule": "machine-changed"`) {
		t.Errorf("exit %d, want 12 with machine-changed; stdout:\n%s\nstderr: %s", code, stdout, stderr)
	}
}

// TestCheckFormats runs check with every format on one case: the exit
// status is the verdict's whatever the format, and each output is what
// its format says.
func TestCheckFormats(t *testing.T) {
	oldSO, newSO := buildCase(t, "sym/function-removed")
	for _, tt := range []struct{ format, want string }{
		{"text", "verdict: incompatible"},
		{"json", `"verdict": "incompatible"`},
		{"sarif", `"ruleId": "symbol-removed"`},
		{"junit", `<failure message="FUNC gone removed`},
		{"markdown", "<details><summary><code>symbol-removed</code>"},
		{"github", "::error title=compatgate libcase.so.1%3A symbol-removed::FUNC gone removed"},
	} {
		code, stdout, stderr := runCLI("check", "--format", tt.format, oldSO, newSO)
		if code != 12 || !strings.Contains(stdout, tt.want) {
			t.Errorf("--format %s: exit %d (want 12), output lacks %q:\n%s%s", tt.format, code, tt.want, stdout, stderr)
		}
	}
	if code, _, stderr := runCLI("check", "--format", "html", oldSO, newSO); code != 2 || !strings.Contains(stderr, `unknown --format "html"`) {
		t.Errorf("--format html: exit %d, stderr %q; want 2 and the reason", code, stderr)
	}
}

// TestCheckSuppressions: a suppression file silences its finding (exit
// status, summary, JSON), --show-suppressed lists it, and a malformed or
// missing file is an error naming the line.
func TestCheckSuppressions(t *testing.T) {
	oldSO, newSO := buildCase(t, "sym/function-removed")
	dir := t.TempDir()
	good := filepath.Join(dir, "good.abignore")
	bad := filepath.Join(dir, "bad.abignore")
	os.WriteFile(good, []byte("[suppress_function]\n  label = gone on purpose\n  name = gone\n"), 0o644)
	os.WriteFile(bad, []byte("[suppress_function]\n  name = gone\n  colour = blue\n"), 0o644)

	code, stdout, stderr := runCLI("check", "--suppressions", good, "--format", "json", oldSO, newSO)
	if code != 0 {
		t.Fatalf("exit %d, want 0 (the only break suppressed); stderr %s\n%s", code, stderr, stdout)
	}
	var r struct {
		Summary      struct{ Suppressed int }
		Suppressions []compat.SuppressionUse
		Suppressed   []compat.Finding
	}
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatal(err)
	}
	if r.Summary.Suppressed != 1 || len(r.Suppressions) != 1 || r.Suppressions[0].Label != "gone on purpose" ||
		r.Suppressions[0].Suppressed != 1 || r.Suppressed != nil {
		t.Errorf("summary.suppressed %d, suppressions %+v, suppressed %v", r.Summary.Suppressed, r.Suppressions, r.Suppressed)
	}
	code, stdout, _ = runCLI("check", "--suppr", good, "--show-suppressed", oldSO, newSO)
	for _, want := range []string{"good.abignore:1 [suppress_function] gone on purpose: 1 finding(s) suppressed",
		"suppressed break symbol-removed (by " + good + ":1 [suppress_function] gone on purpose): FUNC gone removed",
		"verdict: compatible (0 break, 0 warn, 0 info, 1 suppressed)"} {
		if code != 0 || !strings.Contains(stdout, want) {
			t.Errorf("exit %d; text lacks %q:\n%s", code, want, stdout)
		}
	}
	for _, tt := range []struct{ file, want string }{
		{bad, bad + `:3: property "colour" is not supported in [suppress_function]`},
		{filepath.Join(dir, "missing"), "no such file"},
	} {
		code, _, stderr := runCLI("check", "--suppressions", tt.file, oldSO, newSO)
		if code != 1 || !strings.Contains(stderr, tt.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("--suppressions %s: exit %d, stderr %q; want 1 and one line with %q", tt.file, code, stderr, tt.want)
		}
	}
}

// TestCheckPackageUsage: a library against a directory, or debug packages
// for library files, are usage errors.
func TestCheckPackageUsage(t *testing.T) {
	oldSO, newSO := buildCase(t, "sym/added-only")
	dir := t.TempDir()
	for _, args := range [][]string{
		{oldSO, dir},
		{"--debug-package1", dir, oldSO, newSO},
		{"--devel-pkg2", dir, oldSO, newSO},
	} {
		code, _, stderr := runCLI(append([]string{"check"}, args...)...)
		if code != 2 || strings.Count(stderr, "\n") != 1 {
			t.Errorf("check %q: exit %d, stderr %q; want 2 and one line", args, code, stderr)
		}
	}
	if code, _, stderr := runCLI("check", dir, t.TempDir()); code != 1 || !strings.Contains(stderr, "no ELF shared library") {
		t.Errorf("two empty directories: exit %d, stderr %q; want 1, no ELF shared library", code, stderr)
	}
}
