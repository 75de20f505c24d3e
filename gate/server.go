package gate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/compatgate/compatgate/gate/queue"
	"github.com/compatgate/compatgate/internal/trust"
)

// Server is compatgate serve: it watches the release directory of every
// subscription, takes each new release through Intake, upgrades the
// library with it (Upgrader.Upgrade: hot-apply or enqueue), and runs the
// due queue entries.
//
// Each release is acted on once: when it has been upgraded to (or found to
// be nothing to do), a marker <state-dir>/releases/NAME/SHA256.done is
// written, and a restarted server skips it. A server killed before the
// marker acts on the release again on restart: the upgrade resumes from the
// kept previous build (see Upgrader.Upgrade), the engine answers
// not_changed for processes already hot-applied, and restart entries are
// keyed by (library, build-id), so nothing is queued twice.
type Server struct {
	Config   *Config
	Upgrader *Upgrader // its Queue is the server's queue
	// Settle is how long a release's files must be quiet before it is
	// taken (fsnotify reports writes as they happen); 300ms when zero.
	Settle time.Duration
	// Executor runs due entries every Config.Poll; nil: a default one.
	Executor *queue.Executor
	Logger   *slog.Logger
}

func (s *Server) log() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// release is one release of one subscription.
type release struct {
	sub  *Subscription
	name string
}

// Run serves until ctx is done, then returns nil once the release being
// handled (if any) is finished and the executor has returned the entry it
// was running (if any) to the queue.
func (s *Server) Run(ctx context.Context) error {
	q := s.Upgrader.Queue
	if q == nil {
		return errors.New("serve: no queue")
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	defer w.Close()
	dirs := map[string]*Subscription{}
	for i := range s.Config.Libraries {
		sub := &s.Config.Libraries[i]
		if err := w.Add(sub.Releases); err != nil {
			return fmt.Errorf("serve: watching %s: %w", sub.Releases, err)
		}
		dirs[filepath.Clean(sub.Releases)] = sub
		s.log().Info("watching", "library", sub.Path, "releases", sub.Releases, "hot_apply", sub.HotApply)
	}

	var wg sync.WaitGroup
	defer wg.Wait()
	// Whatever ends Run also stops the executor (deferred calls run last
	// first: cancel, then wait).
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.runQueue(ctx)
	}()

	settle := s.Settle
	if settle == 0 {
		settle = 300 * time.Millisecond
	}
	ready := make(chan release, 64)
	var mu sync.Mutex
	timers := map[release]*time.Timer{}
	schedule := func(r release) {
		mu.Lock()
		defer mu.Unlock()
		if t, ok := timers[r]; ok {
			t.Reset(settle)
			return
		}
		timers[r] = time.AfterFunc(settle, func() {
			mu.Lock()
			delete(timers, r)
			mu.Unlock()
			select {
			case ready <- r:
			case <-ctx.Done():
			}
		})
	}
	defer func() {
		mu.Lock()
		for _, t := range timers {
			t.Stop()
		}
		mu.Unlock()
	}()

	// Releases that appeared while no server ran.
	for i := range s.Config.Libraries {
		sub := &s.Config.Libraries[i]
		ents, err := os.ReadDir(sub.Releases)
		if err != nil {
			return fmt.Errorf("serve: %w", err)
		}
		var names []string
		for _, e := range ents {
			if n, ok := ReleaseName(e.Name()); ok && n == e.Name() {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		for _, n := range names {
			s.handle(ctx, release{sub, n})
		}
	}

	for {
		select {
		case <-ctx.Done():
			s.log().Info("shutting down")
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return errors.New("serve: watcher closed")
			}
			if ev.Op&(fsnotify.Create|fsnotify.Write|fsnotify.Rename|fsnotify.Chmod) == 0 {
				continue
			}
			sub := dirs[filepath.Dir(ev.Name)]
			if n, ok := ReleaseName(filepath.Base(ev.Name)); ok && sub != nil {
				schedule(release{sub, n})
			}
		case err, ok := <-w.Errors:
			if !ok {
				return errors.New("serve: watcher closed")
			}
			s.log().Error("watcher", "err", err)
		case r := <-ready:
			s.handle(ctx, r)
		}
	}
}

// runQueue runs the due entries every poll interval until ctx is done.
func (s *Server) runQueue(ctx context.Context) {
	x := s.Executor
	if x == nil {
		x = &queue.Executor{Queue: s.Upgrader.Queue, Logger: s.log()}
	}
	if x.Install == nil {
		x.Install = s.Upgrader.InstallEntry
	}
	poll := time.Duration(s.Config.Poll)
	if poll == 0 {
		poll = 30 * time.Second
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		results, err := x.RunDue(ctx)
		for _, r := range results {
			if r.Ran {
				s.log().Info("queue entry ran", "entry", r.Entry.ID, "library", r.Entry.Library,
					"state", r.Entry.State, "error", r.Entry.LastError)
			}
		}
		if err != nil && ctx.Err() == nil {
			s.log().Error("running queue", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// handle takes one release, if complete and not yet handled, and upgrades to it.
func (s *Server) handle(ctx context.Context, r release) {
	if ctx.Err() != nil {
		return
	}
	q := s.Upgrader.Queue
	log := s.log().With("library", r.sub.Path, "release", r.name)
	key, err := r.sub.PublicKeyBytes()
	if err != nil {
		log.Error("bad public key", "err", err)
		return
	}
	owner, err := trust.ParseOwner(r.sub.Owner)
	if err != nil {
		log.Error("bad owner", "err", err)
		return
	}
	stage := filepath.Join(q.Dir(), "releases", r.sub.Name)
	in := Intake{Dir: r.sub.Releases, StageDir: stage, MaxSize: r.sub.MaxSize, PublicKey: key,
		Library: r.sub.Name, RequireManifest: r.sub.RequireManifest, Trust: owner}
	rel, err := in.Take(r.name)
	if rel.Staged != "" {
		defer os.Remove(rel.Staged) // the upgrade keeps what it needs
	}
	var refused *RefusedError
	switch {
	case errors.Is(err, ErrNotReady):
		log.Info("release not complete yet", "reason", err)
		return
	case errors.As(err, &refused):
		log.Warn("release refused", "reason", refused.Reason)
		s.audit(ctx, r.sub.Path, "release", "refused", refused.Error())
		return
	case err != nil:
		log.Error("taking release", "err", err)
		return
	}
	done := filepath.Join(stage, rel.SHA256+".done")
	if _, err := os.Stat(done); err == nil {
		os.Remove(rel.Staged)
		log.Debug("release already handled", "sha256", rel.SHA256)
		return
	}
	detail := fmt.Sprintf("%s: sha256 %s verified", rel.Source, rel.SHA256)
	if rel.Signed {
		detail += ", signature verified"
	}
	if rel.Version != "" {
		detail += ", version " + rel.Version + " (manifest)"
	}
	s.audit(ctx, r.sub.Path, "release", "accepted", detail)
	req := r.sub.Request(rel.Staged)
	req.Source, req.Version = rel.Source, rel.Version
	out, err := s.Upgrader.Upgrade(ctx, req)
	if err != nil {
		log.Error("upgrade failed", "err", err)
		s.audit(ctx, r.sub.Path, "upgrade", "failed", err.Error())
		return
	}
	log.Info("upgraded", "decision", out.Decision.Action, "reason", out.Decision.Reason,
		"status", out.Status, "processes", len(out.Processes), "entry", out.Entry)
	for _, p := range out.Processes {
		log.Info("process", "pid", p.PID, "plan", p.Plan, "status", p.Status, "reason", p.Reason, "entry", p.Entry)
	}
	if err := os.WriteFile(done, []byte(rel.Source+"\n"), 0o600); err != nil {
		log.Error("recording release as handled", "err", err)
	}
	os.Remove(rel.Staged)
}

func (s *Server) audit(ctx context.Context, lib, action, outcome, detail string) {
	err := s.Upgrader.Queue.Audit(context.WithoutCancel(ctx), queue.Event{Library: lib, Action: action, Outcome: outcome, Detail: detail})
	if err != nil {
		s.log().Error("audit log write failed", "library", lib, "action", action, "err", err)
	}
}
