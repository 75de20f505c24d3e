package queue

import (
	"fmt"
	"time"
)

// timeLayout is how timestamps are stored: UTC, fixed width, so that TEXT
// comparison orders them in every SQL engine.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

// formatTime returns t in timeLayout, or "" for the zero time.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeLayout)
}

// parseTime reads a timestamp written by formatTime.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("bad stored timestamp %q: %w", s, err)
	}
	return t, nil
}
