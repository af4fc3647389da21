package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/seed-a2a44e50/ngwaf-helloworld/fakeagent"
)

// runProbe is the probe subcommand: it calls ModuleInit on the agent at
// rpc-address (flag or SIGSCI_RPC_ADDRESS, default the agent's) and exits
// 0 if it answers within the timeout, 1 otherwise. It needs no shell, so
// it works as a Kubernetes exec probe or a Docker HEALTHCHECK in a
// distroless image.
func runProbe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	opts := defaultOptions()
	timeout := durationValue{d: time.Second, positive: true}
	fs := flag.NewFlagSet("fakeagent probe", flag.ContinueOnError)
	fs.Var(&opts.rpcAddress, "rpc-address", "`address` of the agent: /path/to.sock, unix:/path, host:port or tcp:host:port")
	fs.Var(&timeout, "timeout", "`duration` to wait for the agent, connecting included")
	if _, err := parse(fs, args, getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout, fs, "fakeagent probe [flags]")
			return exitOK
		}
		printError(stderr, "fakeagent probe", err)
		return exitUsage
	}

	ctx, cancel := context.WithTimeout(ctx, timeout.d)
	defer cancel()
	start := time.Now()
	out, err := fakeagent.Probe(ctx, string(opts.rpcAddress), version)
	if err != nil {
		printError(stderr, "fakeagent probe", fmt.Errorf("%s: %w", opts.rpcAddress, err))
		return exitFailure
	}
	fmt.Fprintf(stdout, "fakeagent probe: %s answered ModuleInit (WAFResponse %d) in %v\n",
		opts.rpcAddress, out.WAFResponse, time.Since(start).Round(time.Microsecond))
	return exitOK
}
