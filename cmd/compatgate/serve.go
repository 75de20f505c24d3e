//go:build unix

package main

import (
	"flag"
	"fmt"
	"log/slog"

	"github.com/compatgate/compatgate/gate"
	"github.com/compatgate/compatgate/gate/inject"
	"github.com/compatgate/compatgate/gate/queue"
)

func runServe(e env) int {
	fs := newFlagSet(e, "serve", "serve --config FILE [--state-dir DIR] [--log-format text|json] [--log-level info|debug]")
	def, _ := queue.DefaultStateDir()
	stateDir := fs.String("state-dir", def, "directory of the queue database (default: the config's state_dir, else this)")
	config := fs.String("config", "", "subscriptions `FILE` (TOML; required)")
	logFormat := fs.String("log-format", "text", "log format on standard error: text or json")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	args, code, ok := parseArgs(e, fs)
	if !ok {
		return code
	}
	if len(args) != 0 || *config == "" {
		fmt.Fprintf(e.stderr, "compatgate serve: want --config FILE and no arguments\n")
		return exitUsage
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(e.stderr, "compatgate serve: --log-level: %v\n", err)
		return exitUsage
	}
	opts := &slog.HandlerOptions{Level: level}
	var log *slog.Logger
	switch *logFormat {
	case "text":
		log = slog.New(slog.NewTextHandler(e.stderr, opts))
	case "json":
		log = slog.New(slog.NewJSONHandler(e.stderr, opts))
	default:
		fmt.Fprintf(e.stderr, "compatgate serve: unknown --log-format %q (want text or json)\n", *logFormat)
		return exitUsage
	}
	c, err := gate.LoadConfig(*config)
	if err != nil {
		return reportErr(e, "serve", err)
	}
	explicit := false
	fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "state-dir" })
	if !explicit && c.StateDir != "" {
		*stateDir = c.StateDir
	}
	if *stateDir == "" {
		fmt.Fprintf(e.stderr, "compatgate serve: no state directory: set --state-dir\n")
		return exitUsage
	}
	ctx := queue.WithActor(e.ctx, "serve")
	q, err := queue.Open(ctx, *stateDir)
	if err != nil {
		return reportErr(e, "serve", err)
	}
	defer q.Close()
	s := &gate.Server{
		Config: c,
		Upgrader: &gate.Upgrader{Queue: q, Logger: log,
			Engine: gate.InjectEngine{Options: inject.Options{StateDir: *stateDir}}},
		Executor: &queue.Executor{Queue: q, Logger: log},
		Logger:   log,
	}
	log.Info("serving", "config", *config, "state_dir", *stateDir, "libraries", len(c.Libraries))
	if err := s.Run(ctx); err != nil {
		return reportErr(e, "serve", err)
	}
	log.Info("stopped")
	return exitOK
}
