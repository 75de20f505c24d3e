// Command score reads the runs of bench/realworld/run.sh and prints their
// Markdown tables, or states the acceptance of issue 17 on them.
//
// Usage:
//
//	go run ./bench/realworld/score [-check] [-min N] RUNS_DIR [PAIR...]
//
// Without -check it prints two tables: per pair the versions, the ground
// truth (the client built against OLD, run against NEW), the verdicts of
// compatgate (with its findings by severity), abidiff (its exit bits) and
// abi-compliance-checker (binary compatibility), and each tool's wall time
// and peak RSS; then per pair the rules of compatgate's break findings
// with the types they name most. With -check it prints one line per unmet
// point of the acceptance and exits 1 when there is any, 0 when all are
// met. -min is the number of pairs that must be judged (default 14; 0 when
// PAIR names select pairs).
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/compatgate/compatgate/rules"
)

func main() {
	check := flag.Bool("check", false, "state the acceptance and exit 1 when it is unmet")
	minPairs := flag.Int("min", -1, "pairs that must be judged (default 14, or 0 when pairs are named)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: score [-check] [-min N] RUNS_DIR [PAIR...]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() < 1 {
		flag.Usage()
		os.Exit(2)
	}
	pairs, err := readPairs(flag.Arg(0), flag.Args()[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "score:", err)
		os.Exit(1)
	}
	if !*check {
		printTable(os.Stdout, pairs)
		fmt.Println()
		printBreaks(os.Stdout, pairs)
		return
	}
	n := *minPairs
	if n < 0 {
		n = 14
		if flag.NArg() > 1 {
			n = 0
		}
	}
	fails := accept(pairs, n)
	for _, f := range fails {
		fmt.Println("FAIL", f)
	}
	if len(fails) > 0 {
		os.Exit(1)
	}
	fmt.Printf("ok: %d pairs meet the acceptance of issue 17\n", len(pairs))
}

// printTable prints the per-pair table.
func printTable(w io.Writer, pairs []*pair) {
	fmt.Fprintln(w, "| pair | versions (bookworm → trixie) | SONAME | ground truth | compatgate | break / warn / info | abidiff | ACC binary | compatgate s / MiB | abidiff s / MiB | ACC s / MiB |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|")
	for _, p := range pairs {
		m := p.Meta
		truth := p.Truth
		if p.TruthLine != "" {
			truth += ": " + strings.ReplaceAll(p.TruthLine, "|", `\|`)
		}
		soname := m["old_soname"]
		if m["new_soname"] != soname {
			soname += " → " + m["new_soname"]
		}
		cg, counts := "error: "+p.ReportErr, "-"
		if r := p.Report; r != nil {
			cg = r.Verdict
			counts = fmt.Sprintf("%d / %d / %d", r.Summary.Break, r.Summary.Warn, r.Summary.Info)
		}
		acc := accVerdict(p)
		fmt.Fprintf(w, "| %s | %s → %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			p.Name, m["old_version"], m["new_version"], soname, truth, cg, counts,
			abidiffVerdict(p.ABExit), acc, p.Times["compatgate"], p.Times["abidiff"], p.Times["acc"])
	}
}

func (m measure) String() string {
	if !m.OK {
		return "-"
	}
	return fmt.Sprintf("%.2f / %.0f", m.Seconds, m.RSSMiB)
}

// abidiffVerdict names abidiff's exit bits.
func abidiffVerdict(rc int) string {
	switch {
	case rc < 0:
		return "-"
	case rc == 0:
		return "compatible (0)"
	case rc&1 != 0 || rc&2 != 0 || rc > 15:
		return fmt.Sprintf("error (%d)", rc)
	case rc&8 != 0:
		return fmt.Sprintf("incompatible (%d)", rc)
	default:
		return fmt.Sprintf("changed (%d)", rc)
	}
}

// accVerdict is ACC's binary compatibility, or its exit status when it
// printed none.
func accVerdict(p *pair) string {
	switch {
	case p.ACCPercent != "":
		return p.ACCPercent + "%"
	case p.ACCExit < 0:
		return "-"
	default:
		return fmt.Sprintf("error (%d)", p.ACCExit)
	}
}

// printBreaks prints, per pair with break findings, the rules behind them
// and the types they name most.
func printBreaks(w io.Writer, pairs []*pair) {
	fmt.Fprintln(w, "| pair | ground truth | compatgate break findings by rule (count: most named types) |")
	fmt.Fprintln(w, "|---|---|---|")
	for _, p := range pairs {
		if p.Report == nil || p.Report.Summary.Break == 0 {
			continue
		}
		fmt.Fprintf(w, "| %s | %s | %s |\n", p.Name, p.Truth, strings.ReplaceAll(ruleDetail(p.Report), "|", `\|`))
	}
}

// count is a name and how often it occurs.
type count struct {
	name string
	n    int
}

// tally counts names, most frequent first (then by name).
func tally(names []string) []count {
	m := map[string]int{}
	for _, n := range names {
		m[n]++
	}
	out := make([]count, 0, len(m))
	for k, v := range m {
		out = append(out, count{k, v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].n != out[j].n {
			return out[i].n > out[j].n
		}
		return out[i].name < out[j].name
	})
	return out
}

// topRules lists the n most frequent rules of the findings of severity sev.
func topRules(r *report, sev rules.Severity, n int) string {
	var names []string
	for _, f := range r.Changes {
		if f.Severity == sev {
			names = append(names, f.Rule)
		}
	}
	var parts []string
	for i, c := range tally(names) {
		if i == n {
			parts = append(parts, "…")
			break
		}
		parts = append(parts, fmt.Sprintf("%s ×%d", c.name, c.n))
	}
	return strings.Join(parts, ", ")
}

// ruleDetail lists every rule of the break findings with its count and the
// three types (or, for symbol findings, symbols) it names most.
func ruleDetail(r *report) string {
	subjects := map[string][]string{}
	var names []string
	for _, f := range r.Changes {
		if f.Severity != rules.Break {
			continue
		}
		names = append(names, f.Rule)
		s := f.Type
		if s == "" {
			s = f.Demangled
		}
		if s == "" {
			s = f.Symbol
		}
		subjects[f.Rule] = append(subjects[f.Rule], s)
	}
	var parts []string
	for _, c := range tally(names) {
		var top []string
		for i, s := range tally(subjects[c.name]) {
			if i == 3 {
				top = append(top, "…")
				break
			}
			top = append(top, fmt.Sprintf("`%s` %d", s.name, s.n))
		}
		parts = append(parts, fmt.Sprintf("**%s** %d: %s", c.name, c.n, strings.Join(top, ", ")))
	}
	return strings.Join(parts, "; ")
}
