package queue

import (
	"encoding/json"
	"fmt"
	"time"
)

// Durations appear in JSON as Go duration strings ("90s", "2h0m0s"), not
// as nanosecond counts.

type durationJSON string

func (d durationJSON) duration() (time.Duration, error) {
	if d == "" {
		return 0, nil
	}
	v, err := time.ParseDuration(string(d))
	if err != nil {
		return 0, fmt.Errorf("bad duration %q: %w", string(d), err)
	}
	return v, nil
}

func durationString(d time.Duration) durationJSON {
	if d == 0 {
		return ""
	}
	return durationJSON(d.String())
}

type actionJSON struct {
	Kind        ActionKind   `json:"kind"`
	Command     string       `json:"command,omitempty"`
	Signal      string       `json:"signal,omitempty"`
	StopTimeout durationJSON `json:"stop_timeout,omitempty"`
}

// MarshalJSON writes the action with its timeout as a duration string.
func (a Action) MarshalJSON() ([]byte, error) {
	return json.Marshal(actionJSON{a.Kind, a.Command, a.Signal, durationString(a.StopTimeout)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (a *Action) UnmarshalJSON(b []byte) error {
	var v actionJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	d, err := v.StopTimeout.duration()
	if err != nil {
		return fmt.Errorf("stop_timeout: %w", err)
	}
	*a = Action{Kind: v.Kind, Command: v.Command, Signal: v.Signal, StopTimeout: d}
	return nil
}

type healthJSON struct {
	Command string       `json:"command,omitempty"`
	Timeout durationJSON `json:"timeout,omitempty"`
}

// MarshalJSON writes the health check with its timeout as a duration string.
func (h Health) MarshalJSON() ([]byte, error) {
	return json.Marshal(healthJSON{h.Command, durationString(h.Timeout)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (h *Health) UnmarshalJSON(b []byte) error {
	var v healthJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	d, err := v.Timeout.duration()
	if err != nil {
		return fmt.Errorf("health timeout: %w", err)
	}
	*h = Health{Command: v.Command, Timeout: d}
	return nil
}

type specJSON struct {
	Cron     string       `json:"cron"`
	Duration durationJSON `json:"duration"`
}

// MarshalJSON writes the window with its duration as a duration string.
func (s Spec) MarshalJSON() ([]byte, error) {
	return json.Marshal(specJSON{s.Cron, durationString(s.Duration)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *Spec) UnmarshalJSON(b []byte) error {
	var v specJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	d, err := v.Duration.duration()
	if err != nil {
		return fmt.Errorf("window duration: %w", err)
	}
	*s = Spec{Cron: v.Cron, Duration: d}
	return nil
}
