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
	"syscall"
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
	// Workers bounds how many releases are taken at once, across
	// subscriptions; DefaultWorkers when zero.
	Workers int
	Logger  *slog.Logger
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

// DefaultWorkers bounds how many releases a Server takes at once when its
// Workers field does not say.
const DefaultWorkers = 4

// Run serves until ctx is done, then returns nil once the releases being
// handled (if any) are finished and the executor has returned the entry it
// was running (if any) to the queue. One Run at a time serves a state
// directory (LockInstance).
//
// Each subscription's releases are taken in turn by a worker of its own,
// at most Workers of them at once: a flood of files in one release
// directory delays no other subscription. A release directory deleted and
// created again is watched again (checked every second), and what it holds
// is taken.
func (s *Server) Run(ctx context.Context) error {
	q := s.Upgrader.Queue
	if q == nil {
		return errors.New("serve: no queue")
	}
	unlock, err := LockInstance(q.Dir())
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	defer unlock()
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	defer w.Close()
	intakes := map[string]*intakeQueue{}
	watched := map[string]fileID{}
	for i := range s.Config.Libraries {
		sub := &s.Config.Libraries[i]
		dir := filepath.Clean(sub.Releases)
		if err := w.Add(dir); err != nil {
			return fmt.Errorf("serve: watching %s: %w", sub.Releases, err)
		}
		watched[dir] = idOf(dir)
		intakes[dir] = newIntakeQueue(sub)
		s.log().Info("watching", "library", sub.Path, "releases", sub.Releases, "hot_apply", sub.HotApply)
	}

	var wg sync.WaitGroup
	defer wg.Wait()
	// Whatever ends Run also stops the executor and the workers (deferred
	// calls run last first: cancel, then wait).
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.runQueue(ctx)
	}()
	workers := s.Workers
	if workers <= 0 {
		workers = DefaultWorkers
	}
	sem := make(chan struct{}, workers)
	for _, iq := range intakes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			iq.run(ctx, sem, s.handle)
		}()
	}

	settle := s.Settle
	if settle == 0 {
		settle = 300 * time.Millisecond
	}
	var mu sync.Mutex
	timers := map[release]*time.Timer{}
	schedule := func(iq *intakeQueue, name string) {
		r := release{iq.sub, name}
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
			iq.add(name)
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
	for _, iq := range intakes {
		if err := iq.scan(); err != nil {
			return fmt.Errorf("serve: %w", err)
		}
	}

	rewatch := time.NewTicker(time.Second)
	defer rewatch.Stop()
	for {
		select {
		case <-ctx.Done():
			s.log().Info("shutting down")
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return errors.New("serve: watcher closed")
			}
			if _, isDir := intakes[filepath.Clean(ev.Name)]; isDir && ev.Op&(fsnotify.Remove|fsnotify.Rename) != 0 {
				// The directory itself went: its watch is gone. A new
				// one may get the same inode number.
				watched[filepath.Clean(ev.Name)] = fileID{}
				s.log().Warn("release directory gone; watching for it to come back", "releases", ev.Name)
				continue
			}
			if ev.Op&(fsnotify.Create|fsnotify.Write|fsnotify.Rename|fsnotify.Chmod) == 0 {
				continue
			}
			iq := intakes[filepath.Dir(ev.Name)]
			if n, ok := ReleaseName(filepath.Base(ev.Name)); ok && iq != nil {
				schedule(iq, n)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return errors.New("serve: watcher closed")
			}
			s.log().Error("watcher", "err", err)
		case <-rewatch.C:
			for dir, iq := range intakes {
				id := idOf(dir)
				if id == watched[dir] {
					continue
				}
				watched[dir] = id
				w.Remove(dir)
				if id == (fileID{}) {
					continue // gone: checked again at the next tick
				}
				if err := w.Add(dir); err != nil {
					s.log().Error("watching the recreated release directory", "releases", dir, "err", err)
					watched[dir] = fileID{} // try again
					continue
				}
				s.log().Warn("release directory recreated: watching it again", "releases", dir)
				if err := iq.scan(); err != nil {
					s.log().Error("reading the release directory", "releases", dir, "err", err)
				}
			}
		}
	}
}

// fileID identifies a directory across a delete and re-create.
type fileID struct{ dev, ino uint64 }

// idOf returns the identity of the directory at path; zero when missing.
func idOf(path string) fileID {
	fi, err := os.Stat(path)
	if err != nil {
		return fileID{}
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fileID{uint64(st.Dev), uint64(st.Ino)}
	}
	return fileID{}
}

// intakeQueue holds the releases of one subscription waiting to be taken,
// each once however often it is announced meanwhile.
type intakeQueue struct {
	sub     *Subscription
	mu      sync.Mutex
	pending []string
	queued  map[string]bool
	wake    chan struct{}
}

func newIntakeQueue(sub *Subscription) *intakeQueue {
	return &intakeQueue{sub: sub, queued: map[string]bool{}, wake: make(chan struct{}, 1)}
}

// add queues the release name, unless it waits already.
func (iq *intakeQueue) add(name string) {
	iq.mu.Lock()
	if !iq.queued[name] {
		iq.queued[name] = true
		iq.pending = append(iq.pending, name)
	}
	iq.mu.Unlock()
	select {
	case iq.wake <- struct{}{}:
	default:
	}
}

// next takes the oldest waiting release.
func (iq *intakeQueue) next() (string, bool) {
	iq.mu.Lock()
	defer iq.mu.Unlock()
	if len(iq.pending) == 0 {
		return "", false
	}
	name := iq.pending[0]
	iq.pending = iq.pending[1:]
	delete(iq.queued, name)
	return name, true
}

// scan queues every release in the directory, in name order.
func (iq *intakeQueue) scan() error {
	ents, err := os.ReadDir(iq.sub.Releases)
	if err != nil {
		return err
	}
	var names []string
	for _, e := range ents {
		if n, ok := ReleaseName(e.Name()); ok && n == e.Name() {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		iq.add(n)
	}
	return nil
}

// run handles the subscription's releases one at a time, each holding one
// of the slots of sem, until ctx is done.
func (iq *intakeQueue) run(ctx context.Context, sem chan struct{}, handle func(context.Context, release)) {
	for {
		name, ok := iq.next()
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-iq.wake:
				continue
			}
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		handle(ctx, release{iq.sub, name})
		<-sem
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
	if err != nil && ctx.Err() != nil {
		log.Info("stopped before the upgrade was done; it is taken again when serve starts", "err", err)
		return
	}
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
	if out.Decision.Action == Refuse {
		return // taken again, e.g. once the subscription allows downgrades
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
