package gate

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/compatgate/compatgate/gate/queue"
	"github.com/compatgate/compatgate/internal/trust"
)

// DefaultMaxSize is the largest release a subscription takes when it does
// not say: 256 MiB.
const DefaultMaxSize = 256 << 20

// Config is a subscriptions file (TOML; see examples/subscriptions.toml).
type Config struct {
	// StateDir, when set, is the state directory (--state-dir wins).
	StateDir string `toml:"state_dir"`
	// Poll is how often serve runs due queue entries; 30s when zero.
	Poll Duration `toml:"poll"`
	// Libraries are the subscriptions, one [[library]] table each.
	Libraries []Subscription `toml:"library"`
}

// Subscription says how one library is followed and upgraded.
type Subscription struct {
	// Name identifies the subscription in logs; the base name of Path
	// when empty.
	Name string `toml:"name"`
	// Path is the installed library (absolute).
	Path string `toml:"path"`
	// Releases is the directory where new builds appear (absolute).
	Releases string `toml:"releases"`
	// HotApply allows hot upgrades of running processes; false (the
	// default) queues a restart for every upgrade.
	HotApply bool `toml:"hot_apply"`
	// HotApplyWithoutDebug allows hot upgrades when the check could not
	// compare types (no debug information for one build or both), so
	// private layouts are not known to be unchanged; false (the default)
	// queues a restart instead.
	HotApplyWithoutDebug bool `toml:"hot_apply_without_debug"`
	// MaxSize is the largest release file taken, in bytes; DefaultMaxSize
	// when zero.
	MaxSize int64 `toml:"max_size"`
	// PublicKey, when set, is the base64 ed25519 public key every release
	// must carry a signature (NAME.sig) from: of its manifest when it has
	// one, else of the file.
	PublicKey string `toml:"public_key"`
	// RequireManifest makes every release carry NAME.manifest naming this
	// subscription (Name), its version and its SHA-256 (see Manifest).
	RequireManifest bool `toml:"require_manifest"`
	// AllowDowngrade takes releases whose manifest's version is older than
	// the installed one; refused by default.
	AllowDowngrade bool `toml:"allow_downgrade"`
	// HoldReview holds releases whose check verdict is review for
	// approval, as incompatible ones always are.
	HoldReview bool `toml:"hold_review"`
	// Owner is a user (name or ID) trusted, besides root, to own the
	// release directory and its files.
	Owner string `toml:"owner"`

	Followers Followers     `toml:"followers"`
	Restart   RestartConfig `toml:"restart"`
	Health    HealthConfig  `toml:"health"`
	Window    WindowConfig  `toml:"window"`
}

// RestartConfig is a subscription's restart action: a command, or a signal
// followed by an optional relaunch command (queue.Action).
type RestartConfig struct {
	Command     string   `toml:"command"`
	Signal      string   `toml:"signal"`
	StopTimeout Duration `toml:"stop_timeout"`
}

// HealthConfig is the check run after each restart.
type HealthConfig struct {
	Command string   `toml:"command"`
	Timeout Duration `toml:"timeout"`
}

// WindowConfig is a maintenance window: cron expression and duration.
// Empty means restarts may run at any time.
type WindowConfig struct {
	Cron     string   `toml:"cron"`
	Duration Duration `toml:"duration"`
}

// Duration is a time.Duration written as a string, e.g. "90s" or "2h".
type Duration time.Duration

// UnmarshalText parses a duration.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalText formats the duration.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// LoadConfig reads and validates a subscriptions file. Unknown keys are
// errors, so that a misspelt setting is not silently ignored.
func LoadConfig(path string) (*Config, error) {
	var c Config
	md, err := toml.DecodeFile(path, &c)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return nil, fmt.Errorf("reading %s: unknown setting(s): %s", path, strings.Join(keys, ", "))
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return &c, nil
}

// Validate checks every subscription and fills in defaults (names).
func (c *Config) Validate() error {
	if c.Poll < 0 {
		return fmt.Errorf("poll: negative duration")
	}
	names := map[string]bool{}
	paths := map[string]bool{}
	releases := map[string]bool{}
	for i := range c.Libraries {
		s := &c.Libraries[i]
		if s.Name == "" {
			s.Name = filepath.Base(s.Path)
		}
		if err := s.validate(); err != nil {
			return fmt.Errorf("library %d (%s): %w", i+1, s.Name, err)
		}
		if names[s.Name] {
			return fmt.Errorf("library %d: name %q used twice", i+1, s.Name)
		}
		if paths[s.Path] {
			return fmt.Errorf("library %d: path %s subscribed twice", i+1, s.Path)
		}
		if releases[filepath.Clean(s.Releases)] {
			return fmt.Errorf("library %d: release directory %s shared with another library", i+1, s.Releases)
		}
		names[s.Name], paths[s.Path], releases[filepath.Clean(s.Releases)] = true, true, true
	}
	return nil
}

func (s *Subscription) validate() error {
	if !filepath.IsAbs(s.Path) {
		return fmt.Errorf("path %q: want an absolute path", s.Path)
	}
	if !filepath.IsAbs(s.Releases) {
		return fmt.Errorf("releases %q: want an absolute directory", s.Releases)
	}
	if s.MaxSize < 0 {
		return fmt.Errorf("max_size: negative")
	}
	if _, err := s.PublicKeyBytes(); err != nil {
		return err
	}
	if _, err := trust.ParseOwner(s.Owner); err != nil {
		return err
	}
	if !s.Followers.All && len(s.Followers.Units) == 0 && len(s.Followers.PIDFiles) == 0 {
		return fmt.Errorf("followers: none (set all = true, units or pid_files)")
	}
	// Validate the restart action as the queue would, with the kinds of
	// targets the followers produce.
	e := queue.Entry{Library: s.Path, Restart: s.Action(), Health: s.HealthCheck(), Window: s.WindowSpec()}
	if e.Restart.Kind == "" {
		e.Restart.Kind = queue.ActionManual // or systemd's: see DefaultRestart
	}
	if s.Followers.All {
		e.Targets = append(e.Targets, queue.Target{Kind: queue.TargetPID, Value: "1"})
	}
	for _, u := range s.Followers.Units {
		e.Targets = append(e.Targets, queue.Target{Kind: queue.TargetUnit, Value: u})
	}
	for _, p := range s.Followers.PIDFiles {
		e.Targets = append(e.Targets, queue.Target{Kind: queue.TargetPIDFile, Value: p})
	}
	if err := e.Validate(); err != nil {
		return err
	}
	return nil
}

// Action returns the restart action as a queue entry holds it; the zero
// Action when none is configured (see DefaultRestart).
func (s *Subscription) Action() queue.Action {
	if s.Restart.Command == "" && s.Restart.Signal == "" {
		return queue.Action{}
	}
	a := queue.Action{Kind: queue.ActionCommand, Command: s.Restart.Command, StopTimeout: time.Duration(s.Restart.StopTimeout)}
	if s.Restart.Signal != "" {
		a.Kind, a.Signal = queue.ActionSignal, strings.TrimPrefix(strings.ToUpper(s.Restart.Signal), "SIG")
	}
	return a
}

// HealthCheck returns the health check as a queue entry holds it.
func (s *Subscription) HealthCheck() queue.Health {
	return queue.Health{Command: s.Health.Command, Timeout: time.Duration(s.Health.Timeout)}
}

// WindowSpec returns the maintenance window as a queue entry holds it.
func (s *Subscription) WindowSpec() queue.Spec {
	return queue.Spec{Cron: s.Window.Cron, Duration: time.Duration(s.Window.Duration)}
}

// PublicKeyBytes decodes PublicKey; nil when none is configured.
func (s *Subscription) PublicKeyBytes() (ed25519.PublicKey, error) {
	if s.PublicKey == "" {
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s.PublicKey))
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("public_key: want the base64 of a %d-byte ed25519 public key", ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}

// Find returns the subscription of the library at path, or nil. Paths
// match as given or, both resolved, as the same file name.
func (c *Config) Find(path string) *Subscription {
	real, _ := realPath(path)
	for i := range c.Libraries {
		s := &c.Libraries[i]
		if s.Path == path {
			return s
		}
		if r, err := realPath(s.Path); err == nil && r == real {
			return s
		}
	}
	return nil
}

// Request returns the upgrade request of s for the file newPath.
func (s *Subscription) Request(newPath string) Request {
	return Request{Library: s.Path, New: newPath, HotApply: s.HotApply, HotApplyWithoutDebug: s.HotApplyWithoutDebug, Followers: s.Followers,
		Restart: s.Action(), Health: s.HealthCheck(), Window: s.WindowSpec(),
		AllowDowngrade: s.AllowDowngrade, HoldReview: s.HoldReview}
}
