package gate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/compatgate/compatgate/gate/queue"
)

// hold queues the upgrade held for approval: NEW, kept in the state
// directory, is installed by the entry, in its window, right before it
// restarts the following processes, once an operator approves it.
func (u *Upgrader) hold(ctx context.Context, req Request, out *Outcome, follow []follower) (*Outcome, error) {
	lib := req.Library
	kept, err := u.keepCopy(req.New, lib, out.New)
	if err != nil {
		return nil, fmt.Errorf("upgrading %s: keeping NEW until approved: %w", lib, err)
	}
	var restart []int
	for _, f := range follow {
		r := ProcessResult{PID: f.pid, Target: f.target, Plan: "restart"}
		if f.status != "" { // not_loaded, or already runs NEW
			r.Plan, r.Status, r.Reason = "", f.status, f.reason
		} else {
			r.Reason = out.Decision.Reason
			restart = append(restart, len(out.Processes))
		}
		out.Processes = append(out.Processes, r)
	}
	e := u.newEntry(req, out.Old, out.New, out.Decision.Reason)
	e.State = queue.Held
	e.Install = queue.Install{From: kept, SHA256: out.New.SHA256, Version: req.Version}
	e.Findings = strings.Join(out.Decision.Findings, "\n")
	id, err := u.enqueue(ctx, req, e, out.Processes, restart)
	if err != nil {
		return nil, fmt.Errorf("upgrading %s: holding the upgrade: %w", lib, err)
	}
	for _, i := range restart {
		out.Processes[i].Status, out.Processes[i].Entry = StatusHeld, id
	}
	out.Entry = id
	out.Status = Worst(out.Processes, StatusHeld)
	if out.Status.rank() < StatusHeld.rank() {
		out.Status = StatusHeld
	}
	u.log().Info("upgrade held", "library", lib, "to", out.New.BuildID, "entry", id)
	return out, nil
}

// installBeside installs NEW, whose SONAME is not OLD's, beside OLD: as
// its own file in OLD's directory (the release's name, or its SONAME) and,
// when that name is not the SONAME, with a SONAME symbolic link to it. It
// never writes OLD's path, and never replaces a file of another build at
// the SONAME's name.
func (u *Upgrader) installBeside(ctx context.Context, req Request, out *Outcome) (*Outcome, error) {
	lib, soname := req.Library, out.New.Soname
	if out.DryRun {
		out.Status = ""
		return out, nil
	}
	if u.Queue == nil {
		return nil, fmt.Errorf("upgrading %s: no queue (only a dry run can do without)", lib)
	}
	dir := filepath.Dir(lib)
	name := filepath.Base(req.New)
	if req.Source != "" {
		name = filepath.Base(req.Source)
	}
	if !validName(soname) {
		return nil, fmt.Errorf("upgrading %s: NEW's SONAME %q is not a file name", lib, soname)
	}
	if !validName(name) || !strings.HasPrefix(name, soname) {
		name = soname // a release named unlike its library
	}
	dst := filepath.Join(dir, name)
	link := filepath.Join(dir, soname)
	for _, p := range []string{dst, link} {
		if real, err := realPath(p); err == nil && real == lib {
			return nil, fmt.Errorf("upgrading %s: %s leads to OLD: refusing to install NEW (SONAME %s) over it", lib, p, soname)
		}
	}
	if fi, err := os.Lstat(link); err == nil && link != dst && fi.Mode()&os.ModeSymlink == 0 {
		if have, err := ReadFacts(link); err != nil || have.SHA256 != out.New.SHA256 {
			return nil, fmt.Errorf("upgrading %s: %s exists and is not a symbolic link: refusing to replace it", lib, link)
		}
	}
	if have, err := ReadFacts(dst); err != nil || have.SHA256 != out.New.SHA256 {
		if err := Install(req.New, dst); err != nil {
			u.audit(ctx, req, "install", "failed", err.Error())
			return nil, err
		}
		out.Installed = true
	} else {
		out.AlreadyInstalled = true
	}
	out.Beside, out.Previous = dst, ""
	if link != dst {
		if err := symlinkAtomic(name, link); err != nil {
			return nil, fmt.Errorf("upgrading %s: SONAME link: %w", lib, err)
		}
		out.Link = link
	}
	u.audit(ctx, req, "install", "beside", fmt.Sprintf("build-id %s (SONAME %s) installed at %s%s, beside OLD (SONAME %s), which stays; clients must be relinked against %s",
		orNone(out.New.BuildID), soname, dst, map[bool]string{true: ", linked from " + link}[link != dst], out.Old.Soname, soname))
	if err := u.recordVersion(ctx, dst, req.Version, out.New.SHA256); err != nil {
		return nil, fmt.Errorf("upgrading %s: %w", lib, err)
	}
	out.Status = StatusOK
	return out, nil
}

// validName reports whether s can name a file in a directory.
func validName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\x00")
}

// symlinkAtomic makes link a symbolic link to target, replacing a link
// there atomically (a new link renamed over it), and syncs the directory.
func symlinkAtomic(target, link string) error {
	if cur, err := os.Readlink(link); err == nil && cur == target {
		return nil
	}
	tmp := filepath.Join(filepath.Dir(link), "."+filepath.Base(link)+".compatgate-link")
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, link); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(link))
}

// downgrade says why req's NEW is older than the installed build, or ""
// when it is not (or no version is known, or downgrades are allowed).
func (u *Upgrader) downgrade(ctx context.Context, req Request, lib string) (string, error) {
	if req.Version == "" || req.AllowDowngrade || u.Queue == nil {
		return "", nil
	}
	cur, _, err := u.Queue.InstalledVersion(ctx, lib)
	if err != nil || cur == "" {
		return "", err
	}
	if CompareVersions(req.Version, cur) < 0 {
		return fmt.Sprintf("downgrade refused: NEW is version %s, older than the installed %s (set allow_downgrade in the subscription to allow it)", req.Version, cur), nil
	}
	return "", nil
}

// recordVersion records the version of the build installed at lib, when
// it has one.
func (u *Upgrader) recordVersion(ctx context.Context, lib, version, sha string) error {
	if version == "" {
		return nil
	}
	return u.Queue.SetInstalledVersion(context.WithoutCancel(ctx), lib, version, sha)
}

// InstallEntry installs the build of a held entry, once approved, at its
// library: the queue's Executor calls it right before the restarts. It
// does nothing when the build is installed already, and refuses when the
// library is no longer the build the entry upgrades from.
func (u *Upgrader) InstallEntry(ctx context.Context, e queue.Entry) error {
	lib := e.Library
	unlock, err := lockLibrary(ctx, u.Queue.Dir(), lib)
	if err != nil {
		return err
	}
	defer unlock()
	cur, err := ReadFacts(lib)
	if err != nil {
		return err
	}
	if cur.SHA256 == e.Install.SHA256 {
		return nil
	}
	if e.From.BuildID != "" && cur.BuildID != e.From.BuildID {
		return fmt.Errorf("%s changed since the upgrade was held: it is build %s, the entry upgrades build %s; cancel the entry",
			lib, orNone(cur.BuildID), e.From.BuildID)
	}
	kept, err := ReadFacts(e.Install.From)
	if err != nil {
		return err
	}
	if kept.SHA256 != e.Install.SHA256 {
		return fmt.Errorf("the kept build %s is not the one approved (SHA-256 %s, want %s)", e.Install.From, kept.SHA256, e.Install.SHA256)
	}
	if err := Install(e.Install.From, lib); err != nil {
		return err
	}
	err = u.Queue.Audit(context.WithoutCancel(ctx), queue.Event{EntryID: e.ID, Library: lib, Action: "install", Outcome: "ok",
		Detail: fmt.Sprintf("approved build-id %s installed; previous build %s kept at %s", orNone(kept.BuildID), orNone(cur.BuildID), PrevPath(lib))})
	if err != nil {
		u.log().Error("audit log write failed", "library", lib, "action", "install", "err", err)
	}
	return u.recordVersion(ctx, lib, e.Install.Version, kept.SHA256)
}
