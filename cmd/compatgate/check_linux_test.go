//go:build linux

package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/compatgate/compatgate/compat"
	"github.com/compatgate/compatgate/internal/debian"
)

// TestCheckDebianPackages is the acceptance test of packages: bookworm's
// and trixie's zlib1g, fetched from the Debian archive, report libz.so.1.
func TestCheckDebianPackages(t *testing.T) {
	a := debian.ForTest(t)
	ctx := context.Background()
	var debs []string
	for _, suite := range debian.Suites {
		deb, err := a.Download(ctx, "zlib1g/"+suite)
		if err != nil {
			t.Fatal(err)
		}
		debs = append(debs, deb)
	}
	code, stdout, stderr := runCLI("check", "--symbols-only", "--format", "json", debs[0], debs[1])
	if code != 0 {
		t.Fatalf("exit %d, want 0 (zlib kept its ABI); stderr: %s\n%s", code, stderr, stdout)
	}
	var r struct {
		Verdict   string
		Libraries []struct {
			Library, Status string
			Old, New        compat.Library
		}
	}
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Libraries) != 1 || r.Libraries[0].Library != "libz.so.1" || r.Libraries[0].Status != "compared" ||
		!strings.Contains(r.Libraries[0].Old.Path, "libz.so.1.2.13") || !strings.Contains(r.Libraries[0].New.Path, "libz.so.1.3") {
		t.Errorf("libraries = %+v; want libz.so.1 compared, 1.2.13 → 1.3", r.Libraries)
	}
	code, stdout, _ = runCLI("check", debs[0], debs[1])
	if code != 4 || !strings.HasPrefix(stdout, "warning: types were not compared in libz.so.1: no debug information") ||
		!strings.Contains(stdout, "=== libz.so.1 (compared): review") {
		t.Errorf("without debug packages: exit %d, want 4 (types not compared):\n%s", code, stdout)
	}
}
