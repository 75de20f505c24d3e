package queue

import (
	"context"
	"path/filepath"
	"testing"
)

func TestEnqueueOnce(t *testing.T) {
	ctx := context.Background()
	q, err := Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	entry := func(lib, to string) Entry {
		return Entry{Library: lib, To: Build{BuildID: to}, Targets: []Target{{TargetPID, "1"}},
			Restart: Action{Kind: ActionCommand, Command: "true"}}
	}
	first, existed, err := q.EnqueueOnce(ctx, entry("/lib/a.so", "b2"))
	if err != nil || existed {
		t.Fatalf("first: %d %v %v", first, existed, err)
	}
	tests := []struct {
		name        string
		lib, to     string
		wantExisted bool
	}{
		{"same key", "/lib/a.so", "b2", true},
		{"other build", "/lib/a.so", "b3", false},
		{"other library", "/lib/b.so", "b2", false},
	}
	for _, tc := range tests {
		id, existed, err := q.EnqueueOnce(ctx, entry(tc.lib, tc.to))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if existed != tc.wantExisted || (existed && id != first) {
			t.Errorf("%s: id %d existed %v, want existed %v (first %d)", tc.name, id, existed, tc.wantExisted, first)
		}
	}
	// A cancelled entry no longer holds the key.
	if err := q.Cancel(ctx, first, "test"); err != nil {
		t.Fatal(err)
	}
	id, existed, err := q.EnqueueOnce(ctx, entry("/lib/a.so", "b2"))
	if err != nil || existed || id == first {
		t.Errorf("after cancel: id %d existed %v err %v", id, existed, err)
	}
	if _, _, err := q.EnqueueOnce(ctx, entry("/lib/a.so", "")); err == nil {
		t.Error("no build-id: no error")
	}
}

// A relative state directory is made absolute: restart commands run in "/"
// and must still find their marker and status files.
func TestOpenRelativeStateDir(t *testing.T) {
	t.Chdir(t.TempDir())
	ctx := context.Background()
	q, err := Open(ctx, "state")
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if !filepath.IsAbs(q.Dir()) {
		t.Fatalf("Dir() = %q, want an absolute path", q.Dir())
	}
	id, err := q.Enqueue(ctx, Entry{Library: "/lib/a.so", Targets: []Target{{TargetCommand, "x"}},
		Restart: Action{Kind: ActionCommand, Command: "true"}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := (&Executor{Queue: q, IgnoreWindows: true}).RunEntry(ctx, id)
	if err != nil || r.Entry.State != Done {
		t.Fatalf("run: %+v %v", r.Entry, err)
	}
}
