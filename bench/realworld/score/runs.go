package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/compatgate/compatgate/compat"
)

// A report is the part of compatgate's JSON report that is scored.
type report struct {
	Verdict string           `json:"verdict"`
	Summary compat.Summary   `json:"summary"`
	Changes []compat.Finding `json:"changes"`
}

// A measure is what /usr/bin/time -v said of one tool's run.
type measure struct {
	Seconds float64
	RSSMiB  float64
	OK      bool
}

// Ground truth outcomes of a pair's client.
const (
	truthOK    = "ok"
	truthBreak = "break"
	truthError = "error" // the client did not pass against OLD, or did not run
)

// A pair is one library upgrade as run.sh left it in the runs directory.
type pair struct {
	Name       string
	Meta       map[string]string
	Truth      string
	TruthLine  string // the client's BREAK line against NEW, or why the truth is unknown
	Report     *report
	ReportErr  string // why there is no report
	CGExit     int
	ABExit     int
	ACCExit    int
	ACCPercent string // binary compatibility, as ACC printed it
	Times      map[string]measure
}

// readPairs reads every pair of the runs directory whose name is among
// names (all when names is empty), sorted by name.
func readPairs(dir string, names []string) ([]*pair, error) {
	metas, err := filepath.Glob(filepath.Join(dir, "*.meta"))
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var out []*pair
	for _, m := range metas {
		name := strings.TrimSuffix(filepath.Base(m), ".meta")
		if len(want) > 0 && !want[name] {
			continue
		}
		p, err := readPair(dir, name)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no runs in %s", dir)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func readPair(dir, name string) (*pair, error) {
	base := filepath.Join(dir, name)
	meta, err := readMeta(base + ".meta")
	if err != nil {
		return nil, err
	}
	p := &pair{Name: name, Meta: meta, Times: map[string]measure{}, CGExit: -1, ABExit: -1, ACCExit: -1}
	if e := meta["error"]; e != "" {
		p.Truth, p.TruthLine = truthError, e
		return p, nil
	}
	p.Truth, p.TruthLine = groundTruth(base)
	for _, tool := range []string{"compatgate", "abidiff", "acc"} {
		p.Times[tool] = readTime(base + "." + tool + ".time")
	}
	p.CGExit, p.ABExit, p.ACCExit = exitOf(base+".compatgate.rc"), exitOf(base+".abidiff.rc"), exitOf(base+".acc.rc")
	if data, err := os.ReadFile(base + ".compatgate.out"); err != nil {
		p.ReportErr = "no output"
	} else {
		var r report
		if err := json.Unmarshal(data, &r); err != nil || r.Verdict == "" {
			p.ReportErr = fmt.Sprintf("exit %d: %s", p.CGExit, lastLine(base+".compatgate.err"))
		} else {
			p.Report = &r
		}
	}
	if data, err := os.ReadFile(base + ".acc.out"); err == nil {
		if m := accRE.FindSubmatch(data); m != nil {
			p.ACCPercent = string(m[1])
		}
	}
	return p, nil
}

var accRE = regexp.MustCompile(`Binary compatibility: ([0-9.]+)%`)

// readMeta reads KEY=VALUE lines.
func readMeta(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			m[k] = v
		}
	}
	return m, nil
}

// groundTruth judges the client's runs against OLD and NEW.
func groundTruth(base string) (truth, line string) {
	oldRC, newRC := exitOf(base+".client-old.rc"), exitOf(base+".client-new.rc")
	switch {
	case oldRC != 0:
		return truthError, fmt.Sprintf("the client fails against OLD (exit %d): %s", oldRC, lastLine(base+".client-old.out"))
	case newRC == 0:
		return truthOK, ""
	}
	line = breakLine(base + ".client-new.out")
	if line == "" {
		line = fmt.Sprintf("exit %d: %s", newRC, lastLine(base+".client-new.out"))
	}
	return truthBreak, line
}

// breakLine returns the first line of the file that starts with "BREAK ".
func breakLine(path string) string {
	data, _ := os.ReadFile(path)
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "BREAK ") {
			return l
		}
	}
	return ""
}

func lastLine(path string) string {
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	return lines[len(lines)-1]
}

// exitOf reads an exit status written by run.sh; -1 when there is none.
func exitOf(path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		return -1
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return -1
	}
	return n
}

// readTime reads the wall-clock time and peak RSS of /usr/bin/time -v.
func readTime(path string) measure {
	data, err := os.ReadFile(path)
	if err != nil {
		return measure{}
	}
	var m measure
	for _, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		if v, ok := strings.CutPrefix(l, "Elapsed (wall clock) time (h:mm:ss or m:ss): "); ok {
			for _, f := range strings.Split(v, ":") {
				x, _ := strconv.ParseFloat(f, 64)
				m.Seconds = m.Seconds*60 + x
			}
			m.OK = true
		}
		if v, ok := strings.CutPrefix(l, "Maximum resident set size (kbytes): "); ok {
			kb, _ := strconv.ParseFloat(v, 64)
			m.RSSMiB = kb / 1024
		}
	}
	return m
}
