//go:build linux && amd64

package inject

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestDrain: in the drain model, a thread that never leaves OLD (spinning
// in it, or blocked in a system call it made) does not stop the apply:
// the others move to NEW at once, the result and status count the thread
// as draining, and the revert works the same way.
func TestDrain(t *testing.T) {
	f := setup(t)
	for _, mode := range []string{"forever", "block"} {
		t.Run(mode, func(t *testing.T) {
			tg := startTarget(t, f, mode)
			tg.expect("version 1")
			o := opts(t)
			o.Drain = true
			o.BusyTimeout = 300 * time.Millisecond
			ctx := context.Background()
			r := Apply(ctx, tg.pid(), f.v1, f.v2, o)
			mustStatus(t, "apply", r, StatusOK)
			// The thread calling ver_get in a loop may be inside OLD too,
			// and leaves it.
			if r.Draining < 1 || r.Undrained != 1 {
				t.Errorf("draining %d, undrained %d; want at least 1, and 1 (the thread never leaves OLD)", r.Draining, r.Undrained)
			}
			tg.expect("version 2")
			q := Query(tg.pid(), o)
			if len(q.Applied) != 1 || q.Applied[0].Draining != r.Draining || q.Applied[0].Undrained != 1 || q.Applied[0].DrainChecked.IsZero() {
				t.Errorf("status: %+v", q)
			}
			mustStatus(t, "revert", Revert(ctx, tg.pid(), f.v1, o), StatusOK)
			tg.expect("version 1")
		})
	}
}

// TestDrainUnderLoad applies and reverts, in the drain model, in a process
// whose threads call OLD at full speed: every cycle succeeds, and the
// threads caught inside OLD at the switch are seen to drain.
func TestDrainUnderLoad(t *testing.T) {
	f := setup(t)
	tg := startTarget(t, f, "threads", "24")
	o := opts(t)
	o.Drain = true
	ctx := context.Background()
	caught := 0
	for i := 0; i < 3; i++ {
		r := Apply(ctx, tg.pid(), f.v1, f.v2, o)
		mustStatus(t, fmt.Sprintf("apply %d", i), r, StatusOK)
		if r.Undrained != 0 {
			t.Errorf("apply %d: %d of %d thread(s) did not drain within %v", i, r.Undrained, r.Draining, o.BusyTimeout)
		}
		caught += r.Draining
		if got, want := tg.ask("report"), "vmin=2 vmax=2 sleeper=2 eintr=0 errors=0"; !strings.Contains(got, want) {
			t.Fatalf("after apply %d: %q, want %q", i, got, want)
		}
		mustStatus(t, fmt.Sprintf("revert %d", i), Revert(ctx, tg.pid(), f.v1, o), StatusOK)
		if got, want := tg.ask("report"), "vmin=1 vmax=1 sleeper=1 eintr=0 errors=0"; !strings.Contains(got, want) {
			t.Fatalf("after revert %d: %q, want %q", i, got, want)
		}
	}
	t.Logf("%d thread(s) caught inside OLD over 3 applies", caught)
}
