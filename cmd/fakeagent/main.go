// Command fakeagent is a stand-in for the Next-Gen WAF (Signal Sciences)
// agent: it serves the agent's RPC protocol to modules on a Unix socket or
// TCP, inspects requests with a built-in engine, and records what modules
// send. It takes the real agent's options where it has them (config,
// rpc-address, shared-cache-dir, accesskeyid, secretaccesskey,
// startup-probe-listener, startup-probe-filepath, max-procs,
// context-expiration, client-ip-header, custom-request-headers,
// debug-log-web-inputs, debug-log-all-the-things), a few of its own
// (require-credentials, agent-mode, admin-address), and test-double
// options prefixed fake-. Every option is a flag -name, an environment
// variable SIGSCI_NAME (upper case, dashes to underscores) and a key of
// the agent.conf file named by -config; a flag wins over its variable,
// which wins over the file. Unknown real-agent keys in the file are
// accepted with a warning; unknown fake- keys and SIGSCI_FAKE_* variables
// are errors.
//
// Usage:
//
//	fakeagent [flags]          serve until SIGTERM or SIGINT
//	fakeagent probe [flags]    call ModuleInit on the agent; exit 0 if it answers
//	fakeagent conformance -app URL [-agent-address ADDR] [-json]
//	                           run the module conformance suite against an app
//	fakeagent -version
//
// Exit codes: 0 success, 1 failure, 2 invalid options.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"

	"github.com/seed-a2a44e50/ngwaf-helloworld/fakeagent"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = "dev"

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	code := exitUsage
	if err := checkEnviron(os.Args, os.Environ()); err != nil {
		printError(os.Stderr, "fakeagent", err)
	} else {
		code = run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	}
	stop()
	os.Exit(code)
}

// checkEnviron checks the environment, KEY=value pairs, before the agent
// command (not a subcommand) runs: see checkFakeVariables. run cannot, as
// it reads the environment through a getenv function.
func checkEnviron(args, environ []string) error {
	if len(args) > 1 && !strings.HasPrefix(args[1], "-") {
		return nil // a subcommand, with options of its own
	}
	fs := flag.NewFlagSet("fakeagent", flag.ContinueOnError)
	defaultOptions().agentFlags(fs)
	return checkFakeVariables(fs, environ)
}

// run is the whole program: it serves until ctx is done and returns the
// exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) > 1 && args[1] == "probe" {
		return runProbe(ctx, args[2:], getenv, stdout, stderr)
	}
	if len(args) > 1 && args[1] == "conformance" {
		return runConformance(ctx, args[2:], stdout, stderr)
	}
	opts := defaultOptions()
	fs := flag.NewFlagSet("fakeagent", flag.ContinueOnError)
	opts.agentFlags(fs)
	warnings, err := parse(fs, args[1:], getenv)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout, fs, "fakeagent [flags]\n  fakeagent probe [-rpc-address address] [-timeout 1s]\n  "+conformanceSynopsis+"\n  fakeagent -version")
			return exitOK
		}
		printError(stderr, "fakeagent", err)
		return exitUsage
	}
	if opts.version {
		fmt.Fprintf(stdout, "fakeagent %s (%s)\n", version, runtime.Version())
		return exitOK
	}
	cfg, err := opts.config()
	if err != nil {
		printError(stderr, "fakeagent", err)
		return exitUsage
	}

	level := opts.logLevel
	if opts.debugLogAll {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg.Logger, cfg.Version = log, version
	for _, w := range warnings {
		log.Warn("config file option ignored", "file", w.file, "option", w.option, "reason", w.reason)
	}
	if opts.maxProcs.set {
		prev := runtime.GOMAXPROCS(opts.maxProcs.n)
		defer runtime.GOMAXPROCS(prev) // for in-process tests
	}

	srv, err := fakeagent.New(cfg)
	if err != nil {
		printError(stderr, "fakeagent", err)
		return exitUsage
	}
	if err := srv.Listen(); err != nil {
		printError(stderr, "fakeagent", err)
		return exitFailure
	}
	log.Info("started", "version", version, "gomaxprocs", runtime.GOMAXPROCS(0))
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	select {
	case <-srv.Ready():
		fmt.Fprintf(stdout, "fakeagent: listening on %s:%s (mode %s)\n", srv.Network(), srv.Addr(), cfg.Mode)
		err = <-served
	case err = <-served:
	}
	if err != nil {
		printError(stderr, "fakeagent", err)
		return exitFailure
	}
	return exitOK
}

// printError prints err on one line, after prefix and without repeating
// the library's own "fakeagent: ".
func printError(w io.Writer, prefix string, err error) {
	msg := strings.TrimPrefix(strings.ReplaceAll(err.Error(), "\n", "; "), "fakeagent: ")
	fmt.Fprintf(w, "%s: %s\n", prefix, msg)
}

// usage prints the synopsis and the flags with their variables.
func usage(w io.Writer, fs *flag.FlagSet, synopsis string) {
	fmt.Fprintf(w, "Usage:\n  %s\n\nA flag marked [$SIGSCI_NAME] can also be set with that environment variable;\nthe flag wins.\n\n", synopsis)
	fs.VisitAll(func(f *flag.Flag) {
		if !noEnv[f.Name] {
			f.Usage += " [$" + envName(f.Name) + "]"
		}
	})
	fs.SetOutput(w)
	fs.PrintDefaults()
}
