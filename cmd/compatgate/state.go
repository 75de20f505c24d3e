//go:build unix

package main

import (
	"flag"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"unicode"

	"github.com/compatgate/compatgate/gate"
	"github.com/compatgate/compatgate/gate/queue"
)

// stateFlags are the flags every queue and log command takes: where the
// state directory is (--state-dir, or the state_dir of --config), and the
// output format.
type stateFlags struct {
	fs     *flag.FlagSet
	dir    string
	config string
	format string
	// cfg is the subscriptions file --config named, once check read it.
	cfg *gate.Config
}

func addStateFlags(fs *flag.FlagSet) *stateFlags {
	sf := &stateFlags{fs: fs}
	def, err := queue.DefaultStateDir()
	if err != nil {
		def = ""
	}
	fs.StringVar(&sf.dir, "state-dir", def, "directory of the queue database (default: the state_dir of --config, else this)")
	fs.StringVar(&sf.config, "config", "", "subscriptions `FILE`: its state_dir is the state directory")
	fs.StringVar(&sf.format, "format", "text", "output format: text or json")
	return sf
}

// check reports a bad --format, --config or --state-dir, as a usage error,
// and takes the state directory from --config unless --state-dir is given.
func (sf *stateFlags) check(e env, cmd string) bool {
	if sf.format != "text" && sf.format != "json" {
		fmt.Fprintf(e.stderr, "compatgate %s: unknown --format %q (want text or json)\n", cmd, sf.format)
		return false
	}
	if sf.config != "" {
		c, err := gate.LoadConfig(sf.config)
		if err != nil {
			fmt.Fprintf(e.stderr, "compatgate %s: %s\n", cmd, clean(err.Error()))
			return false
		}
		sf.cfg = c
		explicit := false
		sf.fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "state-dir" })
		if !explicit && c.StateDir != "" {
			sf.dir = c.StateDir
		}
	}
	if sf.dir == "" {
		fmt.Fprintf(e.stderr, "compatgate %s: no state directory: set --state-dir\n", cmd)
		return false
	}
	return true
}

// actor names the user running the command in the audit log.
func actor() string {
	if u, err := user.Current(); err == nil {
		return "cli:" + u.Username
	}
	return "cli:uid" + strconv.Itoa(os.Getuid())
}

// open opens the queue, creating it if needed, with the acting user
// recorded in the audit log.
func (sf *stateFlags) open(e env) (*queue.Queue, env, error) {
	e.ctx = queue.WithActor(e.ctx, actor())
	q, err := queue.Open(e.ctx, sf.dir)
	return q, e, err
}

// openExisting opens a queue that must exist: a mistyped state directory
// says that no queue is there, and creates nothing.
func (sf *stateFlags) openExisting(e env) (*queue.Queue, env, error) {
	e.ctx = queue.WithActor(e.ctx, actor())
	q, err := queue.OpenExisting(e.ctx, sf.dir)
	return q, e, err
}

// clean makes s safe to print as part of one line of text: control
// characters (a newline in a file name would forge a line of the audit
// log) and bidirectional overrides are escaped as in Go strings.
func clean(s string) string {
	if strings.IndexFunc(s, unsafeRune) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if !unsafeRune(r) {
			b.WriteRune(r)
			continue
		}
		q := strconv.QuoteRune(r) // 'x' with x escaped
		b.WriteString(q[1 : len(q)-1])
	}
	return b.String()
}

// unsafeRune reports a rune that would change how a line of text reads.
func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || r == unicode.ReplacementChar ||
		(r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0x2028 || r == 0x2029
}
