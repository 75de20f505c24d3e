package queue

import (
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the DST cases need America/New_York on any host
)

func TestWindow(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	tests := []struct {
		name     string
		cron     string
		d        time.Duration
		loc      *time.Location
		t        string
		contains bool
		next     string // "" when equal to t
	}{
		{"before", "0 2 * * *", 2 * time.Hour, time.UTC, "2026-06-10T01:59:59Z", false, "2026-06-10T02:00:00Z"},
		{"opening instant", "0 2 * * *", 2 * time.Hour, time.UTC, "2026-06-10T02:00:00Z", true, ""},
		{"inside", "0 2 * * *", 2 * time.Hour, time.UTC, "2026-06-10T03:59:59.9Z", true, ""},
		{"closing instant", "0 2 * * *", 2 * time.Hour, time.UTC, "2026-06-10T04:00:00Z", false, "2026-06-11T02:00:00Z"},
		{"across midnight", "30 22 * * 6", 3 * time.Hour, time.UTC, "2026-06-14T00:30:00Z", true, ""},
		{"after it, a week on", "30 22 * * 6", 3 * time.Hour, time.UTC, "2026-06-14T01:30:00Z", false, "2026-06-20T22:30:00Z"},
		{"descriptor", "@hourly", 10 * time.Minute, time.UTC, "2026-06-10T07:09:00Z", true, ""},
		{"descriptor closed", "@hourly", 10 * time.Minute, time.UTC, "2026-06-10T07:10:00Z", false, "2026-06-10T08:00:00Z"},
		{"longer than its period", "*/5 * * * *", 10 * time.Minute, time.UTC, "2026-06-10T07:03:17Z", true, ""},
		// Wall-clock time of the window's zone: 02:00 local is 07:00 UTC in
		// winter and 06:00 UTC in summer.
		{"local winter", "0 2 * * *", time.Hour, ny, "2026-01-15T07:30:00Z", true, ""},
		{"local summer", "0 2 * * *", time.Hour, ny, "2026-07-15T06:30:00Z", true, ""},
		{"local summer, UTC hour of winter", "0 2 * * *", time.Hour, ny, "2026-07-15T07:30:00Z", false, "2026-07-16T06:00:00Z"},
		// Spring forward (2026-03-08 02:00 EST → 03:00 EDT): an opening in
		// the skipped hour does not happen that day.
		{"DST gap skipped", "30 2 * * *", time.Hour, ny, "2026-03-08T03:10:00-04:00", false, "2026-03-09T02:30:00-04:00"},
		// Fall back (2026-11-01 02:00 EDT → 01:00 EST): 01:30 happens twice,
		// and so does the window.
		{"DST repeat, first", "30 1 * * *", 30 * time.Minute, ny, "2026-11-01T01:45:00-04:00", true, ""},
		{"DST repeat, second", "30 1 * * *", 30 * time.Minute, ny, "2026-11-01T01:45:00-05:00", true, ""},
		{"DST repeat, between", "30 1 * * *", 30 * time.Minute, ny, "2026-11-01T01:10:00-05:00", false, "2026-11-01T01:30:00-05:00"},
		{"CRON_TZ overrides", "CRON_TZ=Asia/Tokyo 0 2 * * *", time.Hour, ny, "2026-06-09T17:30:00Z", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := ParseWindow(tt.cron, tt.d, tt.loc)
			if err != nil {
				t.Fatal(err)
			}
			tm := at(tt.t)
			if got := w.Contains(tm); got != tt.contains {
				t.Errorf("Contains(%s) = %v, want %v", tt.t, got, tt.contains)
			}
			want := tm
			if tt.next != "" {
				want = at(tt.next)
			}
			if got := w.Next(tm); !got.Equal(want) {
				t.Errorf("Next(%s) = %s, want %s", tt.t, got, want)
			}
			if next := w.Next(tm); !w.Contains(next) {
				t.Errorf("window not open at its Next %s", next)
			}
		})
	}
}

func TestParseWindowErrors(t *testing.T) {
	tests := []struct {
		cron string
		d    time.Duration
		want string
	}{
		{"", time.Hour, "empty cron expression"},
		{"0 2 * *", time.Hour, "expected exactly 5 fields"},
		{"0 25 * * *", time.Hour, "above maximum"},
		{"0 2 * * *", 0, "duration must be positive"},
		{"0 2 * * *", -time.Minute, "duration must be positive"},
		{"0 0 30 2 *", time.Hour, "never opens"},
		{"@fortnightly", time.Hour, "unrecognized descriptor"},
	}
	for _, tt := range tests {
		_, err := ParseWindow(tt.cron, tt.d, time.UTC)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseWindow(%q, %v) = %v, want error containing %q", tt.cron, tt.d, err, tt.want)
		}
	}
}
