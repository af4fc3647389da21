package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/seed-a2a44e50/ngwaf-helloworld/fakeagent/conformance"
)

const conformanceSynopsis = "fakeagent conformance -app http://HOST:PORT [-agent-address ADDR] [-json] [flags]"

// runConformance is the conformance subcommand: it starts a fake agent on
// -agent-address, drives the application at -app (whose module must dial
// that address) and prints the report. It exits 0 only when every
// required check passes, 1 when one fails or the run cannot take place,
// 2 on a bad command line.
func runConformance(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fakeagent conformance", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	app := fs.String("app", "", "base `URL` of the application under test, e.g. http://127.0.0.1:8000 (required)")
	agentAddress := fs.String("agent-address", conformance.DefaultAgentAddress,
		"`address` to run the fake agent on, where the app's module dials: /path, unix:/path, host:port or tcp:host:port")
	asJSON := fs.Bool("json", false, "print the report as JSON instead of a table")
	requestTimeout := durationValue{d: conformance.DefaultRequestTimeout, positive: true}
	settle := durationValue{d: conformance.DefaultSettle, positive: true}
	appWait := durationValue{d: conformance.DefaultAppWait, positive: true}
	fs.Var(&requestTimeout, "request-timeout", "`duration` bound on each request to the app")
	fs.Var(&settle, "settle", "`duration` to wait for each UpdateRequest or PostRequest")
	fs.Var(&appWait, "app-wait", "`duration` to wait for the app and its module at the start")
	verbose := fs.Bool("v", false, "log the fake agent's warnings and errors to stderr")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stdout, "Usage:\n  %s\n\n"+
				"Runs the module conformance suite: a fake agent on -agent-address, and\n"+
				"requests to the app at -app, whose module must dial that address. The app\n"+
				"answers upstream mtest's query parameters (response_code, response_time,\n"+
				"size, echo) on any path, and GET /headers with the X-Sigsci-* request\n"+
				"headers it received as a JSON object. Exit status 0 only when every\n"+
				"required check passes.\n\n", conformanceSynopsis)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return exitOK
		}
		printError(stderr, "fakeagent conformance", err)
		return exitUsage
	}
	if fs.NArg() > 0 {
		printError(stderr, "fakeagent conformance", fmt.Errorf("unexpected arguments %q (usage: %s)", fs.Args(), conformanceSynopsis))
		return exitUsage
	}
	if *app == "" {
		printError(stderr, "fakeagent conformance", fmt.Errorf("-app is required (usage: %s)", conformanceSynopsis))
		return exitUsage
	}
	logger := slog.New(slog.DiscardHandler)
	if *verbose {
		logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	rep, err := conformance.Run(ctx, conformance.Config{
		App:            *app,
		AgentAddress:   *agentAddress,
		RequestTimeout: requestTimeout.d,
		Settle:         settle.d,
		AppWait:        appWait.d,
		Logger:         logger,
	})
	if err != nil {
		printError(stderr, "fakeagent conformance", err)
		return exitFailure
	}
	write := rep.WriteText
	if *asJSON {
		write = rep.WriteJSON
	}
	if err := write(stdout); err != nil {
		printError(stderr, "fakeagent conformance", fmt.Errorf("writing the report: %w", err))
		return exitFailure
	}
	if !rep.Passed {
		return exitFailure
	}
	return exitOK
}
