package gate

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/compatgate/compatgate/compat"
	"github.com/compatgate/compatgate/gate/queue"
)

// A second server on the same state directory stops at once; a FIFO named
// like a release blocks nothing; a release directory deleted and created
// again is watched again.
func TestServeSingleInstanceFIFOAndRewatch(t *testing.T) {
	w := newWorld(t)
	v2 := w.build(t, "v2.so", "-DVERSION=2")
	// A FIFO named like a release's checksum, there before the server.
	if err := syscall.Mkfifo(filepath.Join(w.releases, "libdemo.so.1.9.sha256"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(w.releases, "libdemo.so.1.9"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := &Config{Poll: Duration(50 * time.Millisecond), Libraries: []Subscription{{Name: "libdemo", Path: w.lib, Releases: w.releases,
		Followers: Followers{All: true}}}}
	stop := w.serve(t, c, nil)
	waitFor(t, 10*time.Second, "the FIFO to be refused", func() bool {
		return auditHas(t, w.q, "release", "refused", "not a regular file")
	})

	second := &Server{Config: c, Upgrader: &Upgrader{Queue: w.q}, Logger: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := second.Run(ctx); err == nil || !strings.Contains(err.Error(), "another compatgate serve runs") {
		t.Errorf("second server: %v", err)
	}

	if err := os.RemoveAll(w.releases); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(w.releases, 0o755); err != nil {
		t.Fatal(err)
	}
	writeRelease(t, w.releases, "libdemo.so.1.2", v2)
	waitFor(t, 15*time.Second, "the release in the recreated directory to be installed", func() bool {
		return auditHas(t, w.q, "install", "ok", "")
	})
	if !sameFile(t, w.lib, v2) {
		t.Error("v2 not installed")
	}
	stop()
}

// A flood of junk in one release directory does not hold up another
// subscription's release: its release is taken while the flood is still
// being refused.
func TestServeFloodDelaysNoOtherSubscription(t *testing.T) {
	w := newWorld(t)
	v2 := w.build(t, "v2.so", "-DVERSION=2")
	otherDir, otherReleases := t.TempDir(), t.TempDir()
	other := buildLib(t, otherDir, "libother.so.1", "-DVERSION=1")
	const junk = 400
	for i := range junk {
		name := fmt.Sprintf("junk%04d.so", i)
		if err := os.WriteFile(filepath.Join(w.releases, name), []byte("junk"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(w.releases, name+".sha256"), []byte(strings.Repeat("0", 64)+"  "+name+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeRelease(t, otherReleases, "libother.so.1.2", v2)
	c := &Config{Poll: Duration(time.Hour), Libraries: []Subscription{
		{Name: "libdemo", Path: w.lib, Releases: w.releases, Followers: Followers{All: true}},
		{Name: "libother", Path: other, Releases: otherReleases, Followers: Followers{All: true}},
	}}
	w.serve(t, c, nil)
	refusals := func() (n int, lastID, acceptedID int64) {
		evs, err := w.q.AuditLog(context.Background(), queue.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			switch {
			case ev.Action == "release" && ev.Outcome == "refused":
				n++
				lastID = ev.ID
			case ev.Action == "release" && ev.Outcome == "accepted" && ev.Library == other:
				acceptedID = ev.ID
			}
		}
		return
	}
	waitFor(t, 120*time.Second, "every junk file to be refused", func() bool {
		n, _, _ := refusals()
		return n == junk
	})
	_, last, accepted := refusals()
	if accepted == 0 || accepted > last {
		t.Errorf("the other subscription's release was taken after the flood (audit event %d, last refusal %d)", accepted, last)
	}
}

// Releases with signed manifests: the signature may come after the
// checksum without a refusal meanwhile; a release whose manifest's version
// is older than the installed one is refused and audited; nothing staged
// is left behind.
func TestServeManifestsAndDowngrade(t *testing.T) {
	w := newWorld(t)
	v2 := w.build(t, "v2.so", "-DVERSION=2")
	v3 := w.build(t, "v3.so", "-DVERSION=3")
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c := &Config{Poll: Duration(time.Hour), Libraries: []Subscription{{Name: "libdemo", Path: w.lib, Releases: w.releases,
		Followers: Followers{All: true}, PublicKey: base64.StdEncoding.EncodeToString(pub), RequireManifest: true}}}
	w.serve(t, c, nil)
	publish := func(name, src, version string, sigLater bool) {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		m := Manifest{Library: "libdemo", Version: version, SHA256: sha256Hex(b)}.String()
		writeFile(t, filepath.Join(w.releases, name+".manifest"), m, 0o644)
		sig := filepath.Join(w.releases, name+".sig")
		if !sigLater {
			writeFile(t, sig, string(ed25519.Sign(priv, []byte(m))), 0o644)
		}
		writeRelease(t, w.releases, name, src)
		if sigLater {
			time.Sleep(200 * time.Millisecond) // well past the settle time
			writeFile(t, sig, string(ed25519.Sign(priv, []byte(m))), 0o644)
		}
	}
	publish("libdemo.so.1.3", v3, "3.0", true)
	waitFor(t, 15*time.Second, "version 3.0 to be installed", func() bool { return auditHas(t, w.q, "install", "ok", "") })
	if auditHas(t, w.q, "release", "refused", "") {
		t.Errorf("a refusal while the signature was on its way:\n%s", dumpAudit(t, w.q))
	}
	publish("libdemo.so.1.2", v2, "2.0", false)
	waitFor(t, 15*time.Second, "version 2.0 to be refused", func() bool {
		return auditHas(t, w.q, "decide", "refuse", "2.0, older than the installed 3.0")
	})
	if !sameFile(t, w.lib, v3) {
		t.Error("the downgrade was installed")
	}
	ents, _ := os.ReadDir(filepath.Join(w.state, "releases", "libdemo"))
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".done") {
			t.Errorf("left in the stage directory: %s", e.Name())
		}
	}
}

// A server told to stop while it checks a release stops without waiting
// for the check (which may take long on a big library); the release is
// not marked handled, so the next server takes it.
func TestServeStopsDuringACheck(t *testing.T) {
	w := newWorld(t)
	v2 := w.build(t, "v2.so", "-DVERSION=2")
	block := make(chan struct{})
	defer close(block)
	checking := make(chan struct{}, 1)
	log := slog.New(slog.DiscardHandler)
	c := &Config{Poll: Duration(time.Hour), Libraries: []Subscription{{Name: "libdemo", Path: w.lib, Releases: w.releases, Followers: Followers{All: true}}}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	s := &Server{Config: c, Settle: 20 * time.Millisecond, Logger: log, Upgrader: &Upgrader{Queue: w.q, Logger: log,
		Check: func(string, string) (*compat.Report, error) {
			checking <- struct{}{}
			<-block
			return nil, errors.New("released")
		}}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	writeRelease(t, w.releases, "libdemo.so.1.2", v2)
	select {
	case <-checking:
	case <-time.After(30 * time.Second):
		t.Fatal("the release was not checked")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve waits for the check to end")
	}
	if m, _ := filepath.Glob(filepath.Join(w.state, "releases", "libdemo", "*.done")); len(m) != 0 {
		t.Errorf("the release was marked handled: %v", m)
	}
	if auditHas(t, w.q, "upgrade", "failed", "") {
		t.Errorf("stopping was audited as a failed upgrade:\n%s", dumpAudit(t, w.q))
	}
}
