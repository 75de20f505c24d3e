//go:build unix

package main

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/compatgate/compatgate/gate/queue"
	"github.com/compatgate/compatgate/internal/table"
)

func runLog(e env) int {
	fs := newFlagSet(e, "log", "log [--entry ID] [--library PATH] [--since TIME] [--until TIME] [--limit N] [--state-dir DIR | --config FILE] [--format text|json]")
	sf := addStateFlags(fs)
	var f queue.AuditFilter
	fs.Int64Var(&f.EntryID, "entry", 0, "only events about this entry")
	fs.StringVar(&f.Library, "library", "", "only events about this library path")
	since := fs.String("since", "", "only events at or after TIME: RFC 3339 (2026-01-02T15:04:05Z), a date (2026-01-02), or a duration ago (24h)")
	until := fs.String("until", "", "only events before TIME (same forms as --since)")
	fs.IntVar(&f.Limit, "limit", 100, "show the newest N events; 0 for all")
	args, code, ok := parseArgs(e, fs)
	if !ok {
		return code
	}
	if len(args) != 0 {
		fmt.Fprintf(e.stderr, "compatgate log: takes no arguments\n")
		return exitUsage
	}
	if !sf.check(e, "log") {
		return exitUsage
	}
	now := time.Now()
	var err error
	if f.Since, err = parseLogTime(*since, now); err != nil {
		fmt.Fprintf(e.stderr, "compatgate log: --since: %v\n", err)
		return exitUsage
	}
	if f.Until, err = parseLogTime(*until, now); err != nil {
		fmt.Fprintf(e.stderr, "compatgate log: --until: %v\n", err)
		return exitUsage
	}
	if f.Limit < 0 {
		fmt.Fprintf(e.stderr, "compatgate log: --limit must not be negative\n")
		return exitUsage
	}
	q, e, err := sf.openExisting(e)
	if err != nil {
		return reportErr(e, "log", err)
	}
	defer q.Close()
	events, err := q.AuditLog(e.ctx, f)
	if err != nil {
		return reportErr(e, "log", err)
	}
	if sf.format == "json" {
		if events == nil {
			events = []queue.Event{}
		}
		return reportErr(e, "log", writeJSON(e.stdout, events))
	}
	return reportErr(e, "log", writeEvents(e.stdout, events, true))
}

// parseLogTime reads a --since or --until value: "" (no bound), RFC 3339, a
// date in the host's time zone, or a duration before now.
func parseLogTime(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation("2006-01-02", s, time.Local); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time (want 2026-01-02T15:04:05Z, 2026-01-02 or a duration such as 24h)", s)
}

// writeEvents writes audit events as a table; withLibrary adds the entry and
// library columns (left out when showing one entry).
func writeEvents(w io.Writer, events []queue.Event, withLibrary bool) error {
	if len(events) == 0 {
		_, err := fmt.Fprintln(w, "no events")
		return err
	}
	header := []any{"TIME", "ACTOR", "ACTION", "OUTCOME", "DETAIL"}
	if withLibrary {
		header = []any{"TIME", "ACTOR", "ENTRY", "LIBRARY", "ACTION", "OUTCOME", "DETAIL"}
	}
	t := table.New(w, header...)
	for _, ev := range events {
		row := []any{showTime(ev.Time), clean(ev.Actor), clean(ev.Action), clean(ev.Outcome), clean(ev.Detail)}
		if withLibrary {
			entry := "-"
			if ev.EntryID != 0 {
				entry = strconv.FormatInt(ev.EntryID, 10)
			}
			row = []any{showTime(ev.Time), clean(ev.Actor), entry, clean(orDash(ev.Library)), clean(ev.Action), clean(ev.Outcome), clean(ev.Detail)}
		}
		if err := t.Append(row...); err != nil {
			return err
		}
	}
	return t.Render()
}
