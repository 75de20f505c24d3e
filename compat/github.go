package compat

import (
	"bufio"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// githubCommands maps severities to GitHub Actions workflow commands.
var githubCommands = [...]string{"notice", "warning", "error"}

// Escaping of workflow commands, as @actions/core does it: the message
// escapes %, CR and LF; property values also ':' and ','.
var (
	githubData     = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A")
	githubProperty = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C")
)

// GitHubOptions tune the workflow commands.
type GitHubOptions struct {
	// SourceRoot is the repository's checkout (GITHUB_WORKSPACE): an
	// annotation names the declaration's file and line when the file lies
	// under it, as GitHub wants paths relative to the repository.
	SourceRoot string
}

// WriteGitHub writes the findings as GitHub Actions workflow commands,
// one annotation a finding: ::error for a break, ::warning for a warn,
// ::notice for info, titled with the library and the rule id, and placed
// at the declaration's file and line when the debug information gives
// them under opts.SourceRoot. A last line ::notice gives the verdict.
func WriteGitHub(w io.Writer, opts GitHubOptions, reports ...*Report) error {
	bw := bufio.NewWriter(w)
	for _, r := range reports {
		lib := r.libraryName()
		for _, n := range r.Notes {
			fmt.Fprintf(bw, "::warning title=%s::%s\n", githubProperty.Replace("compatgate "+lib), githubData.Replace(n))
		}
		for i := range r.Len() {
			f := r.Finding(i)
			msg := demangleText(f.Message)
			if f.Path != "" {
				msg += "\nvia " + demangleText(f.Path)
			}
			if f.Type != "" && len(f.Affected) > 0 {
				msg += "\naffects " + strings.Join(demangleAll(f.Affected, 10), ", ")
			}
			at := ""
			if rel, ok := under(opts.SourceRoot, f.File); ok {
				at = "file=" + githubProperty.Replace(filepath.ToSlash(rel)) + ","
				if f.Line > 0 {
					at += fmt.Sprintf("line=%d,", f.Line)
				}
			}
			fmt.Fprintf(bw, "::%s %stitle=%s::%s\n", githubCommands[f.Severity], at,
				githubProperty.Replace(fmt.Sprintf("compatgate %s: %s", lib, f.Rule)), githubData.Replace(msg))
		}
	}
	all := &Result{Libraries: reports}
	worst, total := all.Verdict(), all.Summary()
	cmd := map[Verdict]string{Compatible: "notice", Review: "warning", Incompatible: "error"}[worst]
	fmt.Fprintf(bw, "::%s title=compatgate::%s\n", cmd, githubData.Replace(fmt.Sprintf(
		"verdict: %s (%d break, %d warn, %d info, %d suppressed)", worst, total.Break, total.Warn, total.Info, total.Suppressed)))
	return bw.Flush()
}

// demangleAll returns the first n names demangled, and how many more
// there are.
func demangleAll(names []string, n int) []string {
	out := make([]string, 0, min(n, len(names))+1)
	for _, s := range names[:min(n, len(names))] {
		out = append(out, Demangle(s))
	}
	if len(names) > n {
		out = append(out, fmt.Sprintf("and %d more", len(names)-n))
	}
	return out
}

// add adds the counts of o to s.
func (s *Summary) add(o Summary) {
	s.Break += o.Break
	s.Warn += o.Warn
	s.Info += o.Info
	s.Suppressed += o.Suppressed
}
