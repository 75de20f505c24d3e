package gate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/compatgate/compatgate/compat"
	"github.com/compatgate/compatgate/gate/queue"
)

// Upgrader carries out upgrades and rollbacks: it checks, decides,
// installs, and hot-applies or queues restarts.
type Upgrader struct {
	// Queue receives restart entries and the audit log. It may be nil only
	// for dry runs.
	Queue *queue.Queue
	// Engine hot-applies; nil means none is available (every upgrade that
	// needs running processes changed is queued).
	Engine Engine
	// Check compares two builds; nil means compat.Check with the default rules.
	Check func(oldPath, newPath string) (*compat.Report, error)
	// Logger receives progress; nil means slog.Default().
	Logger *slog.Logger
}

// Request is one upgrade to carry out.
type Request struct {
	// Library is the installed library's path (OLD); New is the file to
	// install there (NEW).
	Library string
	New     string
	// HotApply is the policy: whether hot-apply is allowed.
	HotApply bool
	// HotApplyWithoutDebug allows hot-apply when types were not compared
	// for want of debug information (see Input.WithoutDebug).
	HotApplyWithoutDebug bool
	// PIDs, when not nil, are the processes to upgrade; otherwise the
	// processes mapping OLD that Followers selects.
	PIDs      []int
	Followers Followers
	// Restart, Health and Window make the restart entry of the processes
	// that cannot be hot-applied. With no Restart.Kind, each process is
	// restarted through its systemd unit (found in /proc/PID/cgroup) when
	// every one has one, else the entry is manual: an operator restarts
	// them and closes it (see DefaultRestart).
	Restart queue.Action
	Health  queue.Health
	Window  queue.Spec
	// Source names where NEW came from (a release file), for the audit log;
	// its base name is NEW's file name when NEW is installed beside OLD.
	Source string
	// Version is NEW's version, from a release manifest; "" when unknown.
	// A version older than the one installed is refused unless
	// AllowDowngrade.
	Version        string
	AllowDowngrade bool
	// HoldReview holds upgrades whose verdict is review, as incompatible
	// ones are always held.
	HoldReview bool
	// DryRun decides and plans, and changes nothing.
	DryRun bool
}

// Outcome is what an upgrade did (or, in a dry run, would do).
type Outcome struct {
	Library  string         `json:"library"`
	Old      *Facts         `json:"old"`
	New      *Facts         `json:"new"`
	Verdict  compat.Verdict `json:"verdict"`
	Report   *compat.Report `json:"-"`
	Decision Decision       `json:"decision"`
	DryRun   bool           `json:"dry_run,omitempty"`
	// Installed reports that NEW was installed at Library by this call;
	// AlreadyInstalled that it was installed before (by an upgrade that
	// was interrupted, or that reached only some processes), so that OLD
	// is the build kept at Previous.
	Installed        bool   `json:"installed"`
	AlreadyInstalled bool   `json:"already_installed,omitempty"`
	Previous         string `json:"previous,omitempty"` // where OLD is kept
	// Processes are the following processes, each with its status.
	Processes []ProcessResult `json:"processes"`
	// Entry is the restart entry, when one was queued (or already was).
	Entry int64 `json:"entry,omitempty"`
	// Beside is where NEW was installed beside OLD (a new SONAME), and
	// Link its SONAME symbolic link ("" when the file has the SONAME's name).
	Beside string `json:"beside,omitempty"`
	Link   string `json:"link,omitempty"`
	// Status is the worst process status; ok when there is no process,
	// not_changed when there was nothing to do, empty in a dry run.
	Status Status `json:"status,omitempty"`
}

func (u *Upgrader) log() *slog.Logger {
	if u.Logger != nil {
		return u.Logger
	}
	return slog.Default()
}

// check compares the builds; it returns when ctx is done without waiting
// for the comparison (which cannot be cut short) to end.
func (u *Upgrader) check(ctx context.Context, oldPath, newPath string) (*compat.Report, error) {
	type result struct {
		r   *compat.Report
		err error
	}
	ch := make(chan result, 1)
	go func() {
		if u.Check != nil {
			r, err := u.Check(oldPath, newPath)
			ch <- result{r, err}
			return
		}
		r, err := compat.Check(oldPath, newPath, nil)
		ch <- result{r, err}
	}()
	select {
	case res := <-ch:
		return res.r, res.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Upgrade carries out req: check and decide (see Decide). Unless req.DryRun:
// a compatible NEW (hot-applicable or not) is installed at the library's
// path at once (keeping OLD at PrevPath), then hot-applied to the following
// processes or one restart entry is enqueued for them (keyed by library and
// NEW's build-id: an upgrade is never queued twice); a process the engine
// cannot hot-apply (busy, refused, error) is queued for a restart too, with
// the engine's reason. An incompatible NEW is not installed: a held entry
// does that, once approved (see Upgrader.InstallEntry). A NEW with another
// SONAME is installed beside OLD. A downgrade is refused. The library is
// locked against other upgrades, rollbacks and installs meanwhile.
//
// When the library's path is a symbolic link, the file it leads to is
// upgraded, and entries and the audit log name that file.
//
// When NEW is installed already and PrevPath holds another build, OLD is
// that build: an upgrade interrupted after the install is resumed by
// calling Upgrade again, and one that reached only some processes (--pid)
// can be carried to others.
func (u *Upgrader) Upgrade(ctx context.Context, req Request) (*Outcome, error) {
	lib, err := realPath(req.Library)
	if err != nil {
		return nil, fmt.Errorf("upgrading %s: %w", req.Library, err)
	}
	// A symbolic link (libfoo.so.1 -> libfoo.so.1.2.3) is followed: the
	// file it names is replaced, and processes map it under that name.
	req.Library = lib
	if !req.DryRun && u.Queue != nil {
		unlock, err := lockLibrary(ctx, u.Queue.Dir(), lib)
		if err != nil {
			return nil, fmt.Errorf("upgrading %s: %w", lib, err)
		}
		defer unlock()
	}
	if st, err := os.Stat(lib); err != nil {
		return nil, fmt.Errorf("upgrading %s: %w", lib, err)
	} else if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("upgrading %s: not a regular file", lib)
	}
	newF, err := ReadFacts(req.New)
	if err != nil {
		return nil, fmt.Errorf("upgrading %s: %w", lib, err)
	}
	oldF, err := ReadFacts(lib)
	if err != nil {
		return nil, fmt.Errorf("upgrading %s: %w", lib, err)
	}
	out := &Outcome{Library: lib, New: newF, DryRun: req.DryRun, Previous: PrevPath(lib)}
	oldPath := lib
	if oldF.SHA256 == newF.SHA256 {
		// NEW is installed already (by an upgrade that was interrupted,
		// or that reached only some processes): OLD is the kept build.
		if prev, err := ReadFacts(PrevPath(lib)); err == nil && prev.SHA256 != newF.SHA256 {
			oldPath, oldF, out.AlreadyInstalled = PrevPath(lib), prev, true
		}
	}
	out.Old = oldF
	report, err := u.check(ctx, oldPath, req.New)
	if err != nil {
		return nil, fmt.Errorf("upgrading %s: %w", lib, err)
	}
	out.Report, out.Verdict = report, report.Verdict
	in := Input{Report: report, Old: oldF, New: newF, HotApply: req.HotApply, HoldReview: req.HoldReview, WithoutDebug: req.HotApplyWithoutDebug}
	if u.Engine == nil {
		in.NoEngine = "not configured"
	}
	if in.Downgrade, err = u.downgrade(ctx, req, lib); err != nil {
		return nil, fmt.Errorf("upgrading %s: %w", lib, err)
	}
	out.Decision = Decide(in)
	if out.AlreadyInstalled && out.Decision.Action == Hold {
		// Installed by the approved entry: what is left are restarts.
		out.Decision.Action = Restart
		out.Decision.Reason = "NEW is installed already (approved); " + out.Decision.Reason
	}
	detail := fmt.Sprintf("%s → %s (verdict %s): %s", orNone(oldF.BuildID), orNone(newF.BuildID), report.Verdict, out.Decision.Reason)
	if len(out.Decision.Findings) > 0 {
		detail += "; findings: " + strings.Join(out.Decision.Findings, "; ")
	}
	u.audit(ctx, req, "decide", string(out.Decision.Action), detail)
	switch out.Decision.Action {
	case Nothing:
		out.Status = StatusNotChanged
		return out, nil
	case Refuse:
		out.Status = StatusRefused
		return out, nil
	case Beside:
		return u.installBeside(ctx, req, out)
	}

	procs, err := u.findMapping(lib, oldPath, oldF)
	if err != nil {
		return nil, fmt.Errorf("upgrading %s: %w", lib, err)
	}
	follow := followersOf(procs, req, oldF, newF)

	if req.DryRun {
		for _, f := range follow {
			r := ProcessResult{PID: f.pid, Target: f.target, Reason: f.reason}
			switch {
			case f.status != "":
			case f.stale:
				r.Plan = "restart"
			default:
				r.Plan = planOf(out.Decision.Action)
			}
			out.Processes = append(out.Processes, r)
		}
		return out, nil
	}
	if u.Queue == nil {
		return nil, errors.New("upgrading: no queue (only a dry run can do without)")
	}
	if out.Decision.Action == Hold {
		return u.hold(ctx, req, out, follow)
	}

	if !out.AlreadyInstalled {
		if err := Install(req.New, lib); err != nil {
			u.audit(ctx, req, "install", "failed", err.Error())
			return nil, err
		}
		out.Installed = true
		u.audit(ctx, req, "install", "ok", fmt.Sprintf("build-id %s installed; previous build %s kept at %s",
			orNone(newF.BuildID), orNone(oldF.BuildID), PrevPath(lib)))
		if err := u.recordVersion(ctx, lib, req.Version, newF.SHA256); err != nil {
			return nil, fmt.Errorf("upgrading %s: %w", lib, err)
		}
	}

	var loadable string // NEW as the engine loads it
	if out.Decision.Action == HotApply {
		if loadable, err = u.loadable(lib, newF); err != nil {
			return nil, fmt.Errorf("upgrading %s: %w", lib, err)
		}
	}
	var restart []int // indexes into out.Processes
	var reasons []string
	for _, f := range follow {
		r := ProcessResult{PID: f.pid, Target: f.target}
		switch {
		case f.status != "":
			r.Status, r.Reason = f.status, f.reason
		case f.stale:
			r.Plan, r.Reason = "restart", f.reason
			restart = append(restart, len(out.Processes))
			reasons = append(reasons, fmt.Sprintf("pid %d: %s", f.pid, f.reason))
		case out.Decision.Action == HotApply:
			r = u.Engine.Apply(ctx, f.pid, f.old, loadable, out.Decision.Drain)
			r.PID, r.Target, r.Plan = f.pid, f.target, "hot-apply"
			u.audit(ctx, req, "hot-apply", string(r.Status), fmt.Sprintf("pid %d: %s", f.pid, orDash(r.Reason)))
			if !r.Status.Success() {
				r.Reason = fmt.Sprintf("hot-apply %s: %s", r.Status, r.Reason)
				restart = append(restart, len(out.Processes))
				reasons = append(reasons, fmt.Sprintf("pid %d: %s", f.pid, r.Reason))
			}
		default:
			r.Plan, r.Reason = "restart", out.Decision.Reason
			restart = append(restart, len(out.Processes))
		}
		out.Processes = append(out.Processes, r)
	}
	if len(restart) > 0 {
		var why []string
		if out.Decision.Action == Restart {
			why = append(why, out.Decision.Reason)
		}
		why = append(why, reasons...)
		e := u.newEntry(req, oldF, newF, strings.Join(why, "; "))
		e.Findings = strings.Join(out.Decision.Findings, "\n")
		id, err := u.enqueue(ctx, req, e, out.Processes, restart)
		for _, i := range restart {
			p := &out.Processes[i]
			p.Plan = "restart"
			if err != nil {
				p.Status, p.Reason = StatusError, p.Reason+"; restart not queued: "+err.Error()
				continue
			}
			p.Status, p.Entry = StatusQueued, id
		}
		out.Entry = id
	}
	out.Status = Worst(out.Processes, StatusOK)
	u.log().Info("upgrade", "library", lib, "from", oldF.BuildID, "to", newF.BuildID,
		"decision", out.Decision.Action, "status", out.Status, "entry", out.Entry)
	return out, nil
}

// newEntry returns the restart entry of an upgrade from oldF to newF,
// without targets.
func (u *Upgrader) newEntry(req Request, oldF, newF *Facts, why string) queue.Entry {
	e := queue.Entry{
		Library: req.Library,
		From:    queue.Build{BuildID: oldF.BuildID, Path: PrevPath(req.Library)},
		To:      queue.Build{BuildID: newF.BuildID, Path: req.Library},
		Restart: req.Restart, Health: req.Health, Window: req.Window, Reason: why,
	}
	if e.To.BuildID == "" {
		e.To.BuildID = "sha256:" + newF.SHA256
	}
	return e
}

// enqueue queues e for the processes at idx (once: see
// queue.EnqueueOnce), with the default restart action when none is
// configured.
func (u *Upgrader) enqueue(ctx context.Context, req Request, e queue.Entry, ps []ProcessResult, idx []int) (int64, error) {
	seen := map[string]bool{}
	var pids []int
	for _, i := range idx {
		t, err := queue.ParseTarget(ps[i].Target)
		if err != nil {
			return 0, err
		}
		if !seen[t.String()] {
			seen[t.String()] = true
			e.Targets = append(e.Targets, t)
			pids = append(pids, ps[i].PID)
		}
	}
	if e.Restart.Kind == "" {
		e.Restart, e.Targets = DefaultRestart(e.Targets, pids)
		if e.Restart.Kind == queue.ActionManual {
			e.Health = queue.Health{}
		}
	}
	id, existed, err := u.Queue.EnqueueOnce(ctx, e)
	if err != nil {
		return 0, err
	}
	if existed {
		u.audit(ctx, req, "enqueue", "exists", fmt.Sprintf("entry %d already restarts these processes onto %s", id, e.To.BuildID))
	}
	return id, nil
}

// follower is a process that follows the library, and how to upgrade it.
type follower struct {
	pid    int
	target string
	old    string // a path holding OLD, as the process maps it
	// status and reason, when set, settle the process without the engine:
	// not_loaded (it maps no build of the library), not_changed (it
	// already runs NEW); stale marks one running another build than OLD,
	// which can only be restarted.
	status Status
	reason string
	stale  bool
}

// followersOf selects the processes of req among procs and says what
// each one runs.
func followersOf(procs []Process, req Request, oldF, newF *Facts) []follower {
	byPID := map[int]Process{}
	for _, p := range procs {
		byPID[p.PID] = p
	}
	var pids []int
	if req.PIDs != nil {
		pids = append(pids, req.PIDs...)
		sort.Ints(pids)
	} else {
		for _, p := range procs {
			pids = append(pids, p.PID)
		}
	}
	var out []follower
	for _, pid := range pids {
		t, follows := req.Followers.target(pid)
		if req.PIDs == nil && !follows {
			continue
		}
		f := follower{pid: pid, target: t}
		p, ok := byPID[pid]
		if m, isOld := p.Maps(oldF.BuildID); ok && isOld {
			f.old = oldPathFor(m, req.Library)
		} else if _, isNew := p.Maps(newF.BuildID); ok && isNew {
			f.status, f.reason = StatusNotChanged, "the process already runs NEW"
		} else if ok {
			f.stale = true
			f.reason = fmt.Sprintf("the process runs build %s, neither OLD nor NEW: only a restart brings it to NEW", orNone(p.Mapped[0].BuildID))
		} else {
			f.status, f.reason = StatusNotLoaded, "the process does not map the library"
		}
		out = append(out, f)
	}
	return out
}

func planOf(a Action) string {
	if a == HotApply {
		return "hot-apply"
	}
	return "restart"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// audit records an event; a failure to record is logged, not fatal.
func (u *Upgrader) audit(ctx context.Context, req Request, action, outcome, detail string) {
	if u.Queue == nil || req.DryRun {
		return
	}
	if req.Source != "" {
		detail += " (release " + req.Source + ")"
	}
	err := u.Queue.Audit(context.WithoutCancel(ctx), queue.Event{Library: req.Library, Action: action, Outcome: outcome, Detail: detail})
	if err != nil {
		u.log().Error("audit log write failed", "library", req.Library, "action", action, "err", err)
	}
}

// oldPathFor returns a path holding the build mapped as m: the mapped file
// itself when it is still there and still that build (e.g. a copy loaded
// by an earlier hot upgrade), else the kept previous build of lib.
func oldPathFor(m MappedFile, lib string) string {
	if !m.Deleted && m.Path != lib && m.BuildID != "" {
		if id, err := FileBuildID(m.Path); err == nil && id == m.BuildID {
			return m.Path
		}
	}
	return PrevPath(lib)
}

// findMapping finds the processes that map a build of lib: from the
// library's path (replaced since, or not), from oldPath, or from the copy
// of old an earlier hot upgrade loaded.
func (u *Upgrader) findMapping(lib, oldPath string, old *Facts) ([]Process, error) {
	paths := []string{lib, oldPath}
	if u.Queue != nil {
		paths = append(paths, buildCopyPath(u.Queue.Dir(), lib, old))
	}
	return FindProcesses([]string{lib, oldPath}, paths)
}

// buildCopyPath is where loadable keeps the build f of lib:
// <state-dir>/builds/<build-id>/<library file name>.
func buildCopyPath(stateDir, lib string, f *Facts) string {
	id := f.BuildID
	if id == "" {
		id = "sha256-" + f.SHA256
	}
	return filepath.Join(stateDir, "builds", id, filepath.Base(lib))
}

// loadable returns a path, other than the library's, holding NEW for the
// engine to load into processes: the dynamic linker takes a path it has
// loaded before (OLD was loaded from the library's path) for the library
// it already has, so NEW must be loaded from a file of its own. The copy is
// kept in the state directory for as long as processes may map it.
func (u *Upgrader) loadable(lib string, f *Facts) (string, error) {
	p, err := u.keepCopy(lib, lib, f)
	if err != nil {
		return "", fmt.Errorf("copying NEW for loading: %w", err)
	}
	return p, nil
}

// keepCopy copies src, the build f of lib, to buildCopyPath (private to
// root), unless it is there already, and returns that path.
func (u *Upgrader) keepCopy(src, lib string, f *Facts) (string, error) {
	p := buildCopyPath(u.Queue.Dir(), lib, f)
	if have, err := ReadFacts(p); err == nil && have.SHA256 == f.SHA256 {
		return p, nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return "", err
	}
	tmp, err := copyTemp(src, filepath.Dir(p), ".copy-*", p)
	if err != nil {
		return "", err
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return "", err
	}
	if err := syncDir(filepath.Dir(p)); err != nil {
		return "", err
	}
	if have, err := ReadFacts(p); err != nil || have.SHA256 != f.SHA256 {
		return "", fmt.Errorf("the copy at %s does not match", p)
	}
	return p, nil
}

// realPath returns the absolute path of the file at path, with symbolic
// links resolved: processes map it under that name.
func realPath(path string) (string, error) {
	p, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", err
	}
	return filepath.Abs(p)
}
