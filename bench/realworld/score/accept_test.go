package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/compatgate/compatgate/compat"
	"github.com/compatgate/compatgate/rules"
)

func TestCulprits(t *testing.T) {
	tests := []struct {
		line string
		want []string
	}{
		{"BREAK ZSTD_c_experimentalParam6: ZSTD_cParam_getBounds: Unsupported parameter", []string{"ZSTD_c_experimentalParam6"}},
		{"BREAK snappy::Compress(Source*, Sink*): 0 bytes, 0 calls", []string{"snappy::Compress"}},
		{"BREAK compress2/uncompress", []string{"compress2", "uncompress"}},
		{"BREAK tcp echo: 3 bytes", nil},
		{"BREAK regexec (regmatch_t offsets): 1-2", []string{"regexec"}},
		{"BREAK ToShortest(0.10000000000000001): 0.1", []string{"ToShortest"}},
		{"BREAK png_read_info (a truncated file accepted)", []string{"png_read_info"}},
		{"exit 139: zlib 1.3.1", nil},
	}
	for _, tt := range tests {
		if got := culprits(tt.line); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("culprits(%q) = %q, want %q", tt.line, got, tt.want)
		}
	}
}

func TestContainsWord(t *testing.T) {
	tests := []struct {
		text, name string
		want       bool
	}{
		{"enumerator ZSTD_c_experimentalParam6 removed", "ZSTD_c_experimentalParam6", true},
		{"ZSTD_c_experimentalParam16", "ZSTD_c_experimentalParam1", false},
		{"x ZSTD_c_experimentalParam16 ZSTD_c_experimentalParam1", "ZSTD_c_experimentalParam1", true},
		{"snappy::Compress(char const*)", "snappy::Compress", true},
		{"my_compress2", "compress2", false},
	}
	for _, tt := range tests {
		if got := containsWord(tt.text, tt.name); got != tt.want {
			t.Errorf("containsWord(%q, %q) = %v, want %v", tt.text, tt.name, got, tt.want)
		}
	}
}

func rep(verdict string, findings ...compat.Finding) *report {
	r := &report{Verdict: verdict, Changes: findings}
	for _, f := range findings {
		switch f.Severity {
		case rules.Break:
			r.Summary.Break++
		case rules.Warn:
			r.Summary.Warn++
		default:
			r.Summary.Info++
		}
	}
	return r
}

func breaks(n int, rule string) []compat.Finding {
	out := make([]compat.Finding, n)
	for i := range out {
		out[i] = compat.Finding{Rule: rule, Severity: rules.Break, Type: "struct private"}
	}
	return out
}

func TestAccept(t *testing.T) {
	enumRemoved := compat.Finding{Rule: "enumerator-removed", Severity: rules.Break, Type: "ZSTD_cParameter", Where: "ZSTD_c_experimentalParam6"}
	zstdLine := "BREAK ZSTD_c_experimentalParam6: ZSTD_cParam_getBounds: Unsupported parameter"
	tests := []struct {
		name  string
		pairs []*pair
		want  []string // a substring of each failure line, in order
	}{
		{"all met", []*pair{
			{Name: "zlib", Truth: truthOK, Report: rep("compatible")},
			{Name: "json-c", Truth: truthOK, Report: rep("review", compat.Finding{Severity: rules.Warn}, compat.Finding{Severity: rules.Break})},
			{Name: "zstd", Truth: truthBreak, TruthLine: zstdLine, Report: rep("incompatible", enumRemoved)},
		}, nil},
		{"false incompatible", []*pair{
			{Name: "libpng", Truth: truthOK, Report: rep("incompatible", breaks(1, "member-offset-changed")...)},
		}, []string{"libpng: the client runs against NEW, but compatgate says incompatible (1 break: member-offset-changed ×1)"}},
		{"too many false breaks", []*pair{
			{Name: "a", Truth: truthOK, Report: rep("review", breaks(2, "r")...)},
			{Name: "b", Truth: truthOK, Report: rep("review", breaks(1, "r")...)},
		}, []string{"carry 3 break findings, at most 2 allowed (a 2, b 1)"}},
		{"real break missed", []*pair{
			{Name: "zstd", Truth: truthBreak, TruthLine: zstdLine, Report: rep("review")},
		}, []string{"zstd: the client breaks against NEW", "zstd: no break finding names"}},
		{"real break buried", []*pair{
			{Name: "zstd", Truth: truthBreak, TruthLine: zstdLine, Report: rep("incompatible", append(breaks(5, "size-changed"), enumRemoved)...)},
		}, []string{"zstd: 6 break findings, at most 5 allowed (size-changed ×5, enumerator-removed ×1)"}},
		{"explained by a warning only", []*pair{
			{Name: "zstd", Truth: truthBreak, TruthLine: zstdLine, Report: rep("incompatible", breaks(1, "x")[0],
				compat.Finding{Rule: "enumerator-removed", Severity: rules.Warn, Where: "ZSTD_c_experimentalParam6"})},
		}, []string{"zstd: no break finding names what the client saw fail"}},
		{"no ground truth, no report, too few", []*pair{
			{Name: "a", Truth: truthError, TruthLine: "the client fails against OLD"},
			{Name: "b", Truth: truthOK, ReportErr: "exit 1: bad ELF"},
		}, []string{"a: no ground truth", "b: no compatgate report (exit 1: bad ELF)", "0 pairs judged, at least 1 needed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := accept(tt.pairs, 1)
			if len(got) != len(tt.want) {
				t.Fatalf("accept = %q, want %d failures", got, len(tt.want))
			}
			for i := range got {
				if !strings.Contains(got[i], tt.want[i]) {
					t.Errorf("failure %d = %q, want it to contain %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// TestReadPair reads a run directory laid out as run.sh leaves it.
func TestReadPair(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"zstd.meta":            "pair=zstd\nold_version=1.5.4\nnew_version=1.5.7\nold_soname=libzstd.so.1\nnew_soname=libzstd.so.1\n",
		"zstd.client-old.rc":   "0\n",
		"zstd.client-old.out":  "zstd 1.5.4\nok\n",
		"zstd.client-new.rc":   "1\n",
		"zstd.client-new.out":  "zstd 1.5.7\n" + "BREAK ZSTD_c_experimentalParam6: ZSTD_cParam_getBounds: Unsupported parameter\n",
		"zstd.compatgate.rc":   "12\n",
		"zstd.compatgate.out":  `{"schema": 1, "verdict": "incompatible", "summary": {"break": 1, "warn": 0, "info": 2}, "changes": [{"rule": "enumerator-removed", "severity": "break", "where": "ZSTD_c_experimentalParam6"}]}`,
		"zstd.compatgate.time": "\tElapsed (wall clock) time (h:mm:ss or m:ss): 1:02.50\n\tMaximum resident set size (kbytes): 20480\n",
		"zstd.abidiff.rc":      "4\n",
		"zstd.acc.rc":          "0\n",
		"zstd.acc.out":         "Binary compatibility: 99.5%\n",
		"bad.meta":             "pair=bad\nerror=build of bad failed\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pairs, err := readPairs(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(pairs) != 2 || pairs[0].Name != "bad" || pairs[0].Truth != truthError {
		t.Fatalf("pairs = %+v", pairs)
	}
	p := pairs[1]
	if p.Truth != truthBreak || !strings.HasPrefix(p.TruthLine, "BREAK ZSTD_c_experimentalParam6") {
		t.Errorf("truth = %s %q", p.Truth, p.TruthLine)
	}
	if p.Report == nil || p.Report.Verdict != "incompatible" || p.Report.Summary.Info != 2 || explaining(p.Report, p.TruthLine) == nil {
		t.Errorf("report = %+v", p.Report)
	}
	if m := p.Times["compatgate"]; !m.OK || m.Seconds != 62.5 || m.RSSMiB != 20 {
		t.Errorf("compatgate time = %+v", m)
	}
	if p.ACCPercent != "99.5" || abidiffVerdict(p.ABExit) != "changed (4)" || p.Times["abidiff"].OK {
		t.Errorf("acc %q, abidiff %q, abidiff time %+v", p.ACCPercent, abidiffVerdict(p.ABExit), p.Times["abidiff"])
	}
	if fails := accept(pairs, 1); len(fails) != 1 || !strings.HasPrefix(fails[0], "bad: no ground truth: build of bad failed") {
		t.Errorf("accept = %q", fails)
	}
}
