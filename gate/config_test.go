package gate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/compatgate/compatgate/gate/queue"
)

func TestExampleConfig(t *testing.T) {
	c, err := LoadConfig(filepath.Join("..", "examples", "subscriptions.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Libraries) != 2 || time.Duration(c.Poll) != 30*time.Second {
		t.Fatalf("config: %+v", c)
	}
	s := c.Find("/usr/local/lib/libshapes.so.1")
	if s == nil || !s.HotApply || s.HotApplyWithoutDebug || s.WindowSpec() != (queue.Spec{Cron: "0 3 * * *", Duration: 2 * time.Hour}) ||
		s.Action().Kind != queue.ActionCommand || s.HealthCheck().Timeout != 20*time.Second {
		t.Errorf("libshapes: %+v", s)
	}
	d := c.Find("/opt/demo/lib/libdemo.so.1")
	if d == nil || d.Action() != (queue.Action{Kind: queue.ActionSignal, Signal: "TERM", Command: "/opt/demo/bin/demo --daemon"}) {
		t.Errorf("libdemo: %+v", d)
	}
}

func TestConfigErrors(t *testing.T) {
	base := `[[library]]
path = "/lib/a.so"
releases = "/srv/a"
[library.followers]
all = true
[library.restart]
command = "true"
`
	tests := []struct {
		name, text, want string
	}{
		{"valid", base, ""},
		{"unknown key", base + "colour = \"red\"\n", "unknown setting"},
		{"relative path", strings.Replace(base, "/lib/a.so", "a.so", 1), "absolute"},
		{"no followers", strings.Replace(base, "all = true", "all = false", 1), "followers"},
		{"no restart: systemd's or manual", strings.Replace(base, `command = "true"`, "", 1), ""},
		{"signal to a unit", strings.Replace(strings.Replace(base, `command = "true"`, `signal = "TERM"`, 1), "all = true", `units = ["x.service"]`, 1), "needs pid or pidfile targets"},
		{"unknown owner", strings.Replace(base, `releases =`, `owner = "no-such-user-here"`+"\nreleases =", 1), "owner"},
		{"bad window", base + "[library.window]\ncron = \"nope\"\nduration = \"1h\"\n", "maintenance window"},
		{"bad duration", base + "[library.window]\ncron = \"@daily\"\nduration = \"soon\"\n", "duration"},
		{"bad key", strings.Replace(base, "[library.followers]", "public_key = \"abc\"\n[library.followers]", 1), "public_key"},
		{"signal with unit", strings.Replace(strings.Replace(base, "all = true", `units = ["a.service"]`, 1),
			`command = "true"`, `signal = "TERM"`, 1), "needs pid or pidfile targets"},
		{"twice", base + strings.Replace(base, "path = ", "name = \"b\"\npath = ", 1), "subscribed twice"},
		{"shared releases", base + strings.Replace(base, "/lib/a.so", "/lib/b.so", 1), "shared with another library"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "c.toml")
			if err := os.WriteFile(p, []byte(tc.text), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := LoadConfig(p)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
