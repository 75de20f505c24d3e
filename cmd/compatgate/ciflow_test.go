//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compatgate/compatgate/compat"
	"github.com/compatgate/compatgate/internal/sarifcheck"
)

// The library of the CI flow: release 1.0, then a change that appends a
// member to an options struct (clients only hold pointers to it, and the
// project accepts that), drops an internal function, and changes a
// parameter type, which nobody accepted.
const (
	flowV1 = `struct shape_opts { int sides; double scale; };
struct shape_opts *shape_opts_new(void) { static struct shape_opts o; return &o; }
double shape_area(struct shape_opts *o, int n) { return o->scale * n; }
int internal_debug_dump(void) { return 0; }
`
	flowV2 = `struct shape_opts { int sides; double scale; int flags; };
struct shape_opts *shape_opts_new(void) { static struct shape_opts o; return &o; }
double shape_area(struct shape_opts *o, long n) { return o->scale * n; }
`
	// flowSuppressions names what the project accepts, in libabigail's
	// format, as a .abignore would.
	flowSuppressions = `# shape_opts is allocated by the library only: members may be appended.
[suppress_type]
  label = shape_opts grows at its end
  name = shape_opts
  has_data_member_inserted_at = end

[suppress_function]
  label = internal functions are not API
  name_regexp = ^internal_
  change_kind = deleted-function
`
)

// TestCIFlow plays a CI pipeline on a real library: the release is built
// and its ABI dump made the baseline, the source changes, the pull
// request's build is checked against the baseline dump (which gives the
// report the release library gives) through the GitHub Action's own
// script (action.yml), with the
// project's suppression file. The SARIF is validated with the SARIF
// Multitool, the GitLab template's job run and its JUnit report parsed, the
// Markdown summary checked, and the suppression silences exactly what it
// names.
func TestCIFlow(t *testing.T) {
	for _, tool := range []string{"gcc", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	dir := t.TempDir()
	build := func(version, src string) string {
		srcDir := filepath.Join(dir, version)
		os.MkdirAll(srcDir, 0o755)
		c := filepath.Join(srcDir, "shapes.c")
		so := filepath.Join(srcDir, "libshapes.so.1")
		if err := os.WriteFile(c, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("gcc", "-shared", "-fPIC", "-g", "-O2", "-Wl,-soname,libshapes.so.1", "-o", so, c).CombinedOutput(); err != nil {
			t.Fatalf("gcc: %v\n%s", err, out)
		}
		return so
	}
	release := build("v1.0", flowV1)
	abignore := filepath.Join(dir, ".abignore")
	if err := os.WriteFile(abignore, []byte(flowSuppressions), 0o644); err != nil {
		t.Fatal(err)
	}
	// On release, the project commits the ABI dump of 1.0 as its
	// baseline (docs/ci.md); pull requests check against it.
	baseline := filepath.Join(dir, "abi", "libshapes.abi.json.gz")
	os.MkdirAll(filepath.Dir(baseline), 0o755)
	if code, _, stderr := runCLI("dump", "-o", baseline, release); code != 0 {
		t.Fatalf("dump of the release: exit %d: %s", code, stderr)
	}
	pr := build("pr", flowV2)
	// Without the suppressions: every change is there.
	all := checkJSON(t, release, pr)
	// With them: exactly what they name is gone.
	kept := checkJSON(t, "--suppressions", abignore, "--show-suppressed", release, pr)
	// Against the baseline dump, the same reports, to the byte.
	for _, args := range [][]string{{}, {"--suppressions", abignore, "--show-suppressed"}} {
		_, fromLib, _ := runCLI(append(append([]string{"check", "--format", "json"}, args...), release, pr)...)
		code, fromDump, stderr := runCLI(append(append([]string{"check", "--format", "json"}, args...), baseline, pr)...)
		if code != 12 || fromDump != fromLib {
			t.Fatalf("check %q against the baseline dump: exit %d (want 12), report differs from the release library's: %v\n%s\n%s", args, code, fromDump != fromLib, fromDump, stderr)
		}
	}
	// The release library is not in the pull request's workspace: from
	// here on, only its dump is.
	if err := os.Remove(release); err != nil {
		t.Fatal(err)
	}
	if len(kept.Changes) != 1 || kept.Changes[0].Rule != "param-type-changed" || kept.Changes[0].Symbol != "shape_area" {
		t.Errorf("findings kept: %+v; want param-type-changed on shape_area only", kept.Changes)
	}
	named := func(f compat.Finding) bool {
		return f.Type == "struct shape_opts" || strings.HasPrefix(f.Symbol, "internal_")
	}
	var silenced []string
	for _, f := range kept.Suppressed {
		if !named(f) {
			t.Errorf("suppressed %s %s %s: not named by the suppressions", f.Rule, f.Type, f.Symbol)
		}
		silenced = append(silenced, f.Rule)
	}
	var wantSilenced []string
	for _, f := range all.Changes {
		if named(f) {
			wantSilenced = append(wantSilenced, f.Rule)
		}
	}
	slices.Sort(silenced)
	slices.Sort(wantSilenced)
	if !slices.Equal(silenced, wantSilenced) || len(wantSilenced) < 3 || kept.Summary.Suppressed != len(wantSilenced) {
		t.Errorf("silenced %v (summary %d); the named findings without suppressions are %v", silenced, kept.Summary.Suppressed, wantSilenced)
	}

	// The pull request's job: the action's check step, as GitHub runs it.
	compatgate := fakeCompatgate(t)
	script := actionStep(t, "check")
	runner := filepath.Join(dir, "runner")
	os.MkdirAll(runner, 0o755)
	output, summary := filepath.Join(runner, "output"), filepath.Join(runner, "summary.md")
	for _, tt := range []struct {
		failOn string
		exit   int
	}{{"incompatible", 12}, {"review", 12}, {"never", 0}} {
		os.WriteFile(output, nil, 0o644)
		os.WriteFile(summary, nil, 0o644)
		cmd := exec.Command("bash", "-e", "-c", script)
		cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(compatgate)+":"+os.Getenv("PATH"),
			"BASELINE="+baseline, "NEW="+pr, "SUPPRESSIONS="+abignore+"\n", "ARGS=", "FAIL_ON="+tt.failOn,
			"SARIF=true", "STEP_SUMMARY=true", "ANNOTATIONS=true", "MAX_DETAILS=50",
			"GITHUB_OUTPUT="+output, "GITHUB_STEP_SUMMARY="+summary, "RUNNER_TEMP="+runner, "GITHUB_WORKSPACE="+dir)
		stdout, err := cmd.Output()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		outputs := readOutputs(t, output)
		if code != tt.exit || outputs["verdict"] != "incompatible" || outputs["exit-code"] != "12" {
			t.Errorf("fail-on %s: step exit %d (want %d), outputs %v\n%s", tt.failOn, code, tt.exit, outputs, stdout)
		}
		// The annotation sits on shape_area's definition: line 3 of the
		// pull request's shapes.c, relative to the workspace.
		if !strings.Contains(string(stdout), "::error file=pr/shapes.c,line=3,title=compatgate libshapes.so.1%3A param-type-changed::parameter 2 (n) of shape_area changed from int to long") {
			t.Errorf("fail-on %s: annotations missing:\n%s", tt.failOn, stdout)
		}
		if tt.failOn != "incompatible" {
			continue
		}
		md, _ := os.ReadFile(summary)
		checkMarkdown(t, string(md))
		sarifcheck.Validate(t, outputs["sarif-file"])
		var sarif struct {
			Runs []struct {
				OriginalURIBaseIDs map[string]struct{ URI string } `json:"originalUriBaseIds"`
				Results            []struct {
					RuleID, Level string
					Suppressions  []struct{ Kind, Justification string }
					Locations     []struct {
						PhysicalLocation struct {
							ArtifactLocation struct {
								URI       string
								URIBaseID string `json:"uriBaseId"`
							}
							Region struct{ StartLine int }
						}
					}
				}
			}
		}
		b, _ := os.ReadFile(outputs["sarif-file"])
		if err := json.Unmarshal(b, &sarif); err != nil {
			t.Fatal(err)
		}
		var open, dismissed []string
		for _, r := range sarif.Runs[0].Results {
			if len(r.Suppressions) == 0 {
				open = append(open, r.RuleID+":"+r.Level)
				// At the declaration, in the sources, relative to the
				// workspace: where code scanning shows it.
				at := r.Locations[0].PhysicalLocation
				if at.ArtifactLocation.URI != "pr/shapes.c" || at.ArtifactLocation.URIBaseID != "SRCROOT" ||
					at.Region.StartLine != 3 || sarif.Runs[0].OriginalURIBaseIDs["SRCROOT"].URI != "file://"+dir+"/" {
					t.Errorf("SARIF result %s is at %+v (base %v); want pr/shapes.c line 3 under SRCROOT %s",
						r.RuleID, at, sarif.Runs[0].OriginalURIBaseIDs, dir)
				}
			} else if r.Suppressions[0].Kind == "external" && strings.Contains(r.Suppressions[0].Justification, abignore) {
				dismissed = append(dismissed, r.RuleID)
			}
		}
		slices.Sort(dismissed)
		if !slices.Equal(open, []string{"param-type-changed:error"}) || !slices.Equal(dismissed, wantSilenced) {
			t.Errorf("SARIF results: open %v, suppressed %v; want [param-type-changed:error], %v", open, dismissed, wantSilenced)
		}
	}

	// The merge request's job: the GitLab template's script, which
	// publishes the JUnit report.
	job := filepath.Join(dir, "gitlab-job")
	os.MkdirAll(job, 0o755)
	cmd := exec.Command("bash", "-e", "-c", gitlabScript(t))
	cmd.Dir = job
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(compatgate)+":"+os.Getenv("PATH"),
		"COMPATGATE_BASELINE="+baseline, "COMPATGATE_NEW="+pr, "COMPATGATE_SUPPRESSIONS="+abignore,
		"COMPATGATE_ARGS=", "COMPATGATE_MAX_DETAILS=50")
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	junit, err := os.ReadFile(filepath.Join(job, "compatgate-report", "junit.xml"))
	if err != nil {
		t.Fatalf("the GitLab job wrote no JUnit report: %v\n%s", err, out)
	}
	for _, f := range []string{"report.json", "report.sarif", "report.md"} {
		if fi, err := os.Stat(filepath.Join(job, "compatgate-report", f)); err != nil || fi.Size() == 0 {
			t.Errorf("the GitLab job's artifact %s is missing or empty", f)
		}
	}
	stdout := string(junit)
	var suites struct {
		Suites []struct {
			Name  string `xml:"name,attr"`
			Cases []struct {
				Name     string `xml:"name,attr"`
				Failures []struct {
					Type string `xml:"type,attr"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal([]byte(stdout), &suites); err != nil {
		t.Fatalf("JUnit report is not XML: %v\n%s", err, stdout)
	}
	s := suites.Suites
	if code != 12 || len(s) != 1 || s[0].Name != "libshapes.so.1" || len(s[0].Cases) != 1 || s[0].Cases[0].Name != "shape_area" ||
		len(s[0].Cases[0].Failures) != 1 || s[0].Cases[0].Failures[0].Type != "param-type-changed" {
		t.Errorf("GitLab job: exit %d, JUnit %+v; want 12, one suite, one case shape_area failing param-type-changed\n%s", code, suites, out)
	}
}

// gitlabScript returns the shell script of the GitLab template's job:
// its script lines, the block ones unindented, minus the go install of
// compatgate (the test provides it).
func gitlabScript(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "ci", "gitlab", "compatgate.gitlab-ci.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var script []string
	in, block := false, false
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case line == "  script:":
			in = true
		case !in:
		case strings.HasPrefix(line, "    - |"):
			block = true
		case strings.HasPrefix(line, "    - "):
			block = false
			if cmd := strings.TrimPrefix(line, "    - "); !strings.HasPrefix(cmd, "go install") {
				script = append(script, cmd)
			}
		case block && strings.HasPrefix(line, "      "):
			script = append(script, strings.TrimPrefix(line, "      "))
		default:
			return strings.Join(script, "\n")
		}
	}
	t.Fatal("the GitLab template has no script")
	return ""
}

// checkJSON runs check --format json and decodes the report.
func checkJSON(t *testing.T, args ...string) (r struct {
	Summary    compat.Summary
	Changes    []compat.Finding
	Suppressed []compat.Finding
}) {
	t.Helper()
	code, stdout, stderr := runCLI(append([]string{"check", "--format", "json"}, args...)...)
	if code != 12 {
		t.Fatalf("check %q: exit %d, want 12; %s", args, code, stderr)
	}
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// checkMarkdown checks the step summary renders as meant: a heading with
// the verdict, the rule table, and each rule's findings in a closed
// <details> block whose <summary> is followed by a blank line (else
// GitHub renders the list inside as text).
func checkMarkdown(t *testing.T, md string) {
	t.Helper()
	for _, want := range []string{
		"## ❌ compatgate: `libshapes.so.1`: incompatible\n",
		"| rule | severity | findings |\n|---|---|---:|\n| `param-type-changed` | break | 1 |\n",
		"1 break, 0 warn, 0 info, 3 suppressed",
		"<details><summary><code>param-type-changed</code> (break, 1): ",
		"</summary>\n\n- `shape_area`: parameter 2 (n) of shape\\_area changed from int to long",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("step summary lacks %q:\n%s", want, md)
		}
	}
	if strings.Count(md, "<details>") != strings.Count(md, "</details>") || strings.Count(md, "<details>") == 0 {
		t.Errorf("unbalanced <details>:\n%s", md)
	}
}

// fakeCompatgate returns a "compatgate" command that runs this test binary
// as compatgate (TestMain's helper mode), for scripts to call.
func fakeCompatgate(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "compatgate")
	script := "#!/bin/sh\nargs=$(printf '%s\\n' \"$@\")\n" +
		cliHelperEnv + "=1 COMPATGATE_ARGS=\"$args\" exec " + self + " -test.run='^$'\n"
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// actionStep returns the shell script of the step with the given id in
// the repository's action.yml.
func actionStep(t *testing.T, id string) string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var script []string
	inStep, inRun := false, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "id: "+id:
			inStep = true
		case inStep && !inRun && strings.TrimSpace(line) == "run: |":
			inRun = true
		case inRun && (strings.HasPrefix(line, "        ") || strings.TrimSpace(line) == ""):
			script = append(script, strings.TrimPrefix(line, "        "))
		case inRun:
			return strings.Join(script, "\n")
		}
	}
	if !inRun {
		t.Fatalf("action.yml has no step %q with a run script", id)
	}
	return strings.Join(script, "\n")
}

// readOutputs reads a $GITHUB_OUTPUT file of name=value lines.
func readOutputs(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]string)
	for line := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			out[k] = v
		}
	}
	return out
}
