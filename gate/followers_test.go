package gate

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFollowersOf(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "x.pid")
	if err := os.WriteFile(pidFile, []byte("20\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	oldF, newF := &Facts{BuildID: "0ld"}, &Facts{BuildID: "1ew"}
	lib := "/nonexistent/libx.so"
	procs := []Process{
		{PID: 10, Mapped: []MappedFile{{Path: lib, Deleted: false, BuildID: "0ld"}}},
		{PID: 20, Mapped: []MappedFile{{Path: lib, Deleted: true, BuildID: "0ld"}}},
		{PID: 30, Mapped: []MappedFile{{Path: lib, BuildID: "1ew"}}},
		{PID: 40, Mapped: []MappedFile{{Path: lib, Deleted: true, BuildID: "3lder"}}},
	}
	type want struct {
		pid    int
		target string
		old    string
		status Status
		stale  bool
	}
	tests := []struct {
		name string
		req  Request
		want []want
	}{
		{"all", Request{Library: lib, Followers: Followers{All: true}}, []want{
			{10, "pid=10", PrevPath(lib), "", false},
			{20, "pid=20", PrevPath(lib), "", false},
			{30, "pid=30", "", StatusNotChanged, false},
			{40, "pid=40", "", "", true},
		}},
		{"pid file only", Request{Library: lib, Followers: Followers{PIDFiles: []string{pidFile}}}, []want{
			{20, "pidfile=" + pidFile, PrevPath(lib), "", false},
		}},
		{"explicit PIDs", Request{Library: lib, PIDs: []int{99, 10}}, []want{
			{10, "pid=10", PrevPath(lib), "", false},
			{99, "pid=99", "", StatusNotLoaded, false},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := followersOf(procs, tc.req, oldF, newF)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d followers %+v, want %d", len(got), got, len(tc.want))
			}
			for i, w := range tc.want {
				g := got[i]
				if g.pid != w.pid || g.target != w.target || g.old != w.old || g.status != w.status || g.stale != w.stale {
					t.Errorf("follower %d: %+v, want %+v", i, g, w)
				}
			}
		})
	}
}
