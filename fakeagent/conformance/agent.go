package conformance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/seed-a2a44e50/ngwaf-helloworld/fakeagent"
	"github.com/seed-a2a44e50/ngwaf-helloworld/fakeagent/detect"
)

// agent runs the suite's fake agent on one address, and swaps it for
// another one there (with other faults, or none at all) between phases:
// the app under test keeps dialling the same address throughout.
type agent struct {
	network, address string
	rules            []detect.Rule
	log              *slog.Logger

	srv    *fakeagent.Server // the one running; nil while the agent is down
	served chan error
	all    []*fakeagent.Server // every one started, in order
}

// start starts an agent with faults f and returns once it serves.
func (a *agent) start(f fakeagent.Faults) error {
	if a.srv != nil {
		return errors.New("conformance: an agent is already running")
	}
	srv, err := fakeagent.New(fakeagent.Config{
		Network: a.network,
		Address: a.address,
		Mode:    detect.ModeBlocking,
		Rules:   a.rules,
		Faults:  f,
		Seed:    1,
		Logger:  a.log,
		Version: "conformance",
	})
	if err != nil {
		return fmt.Errorf("conformance: configuring the fake agent: %w", err)
	}
	if err := srv.Listen(); err != nil {
		return fmt.Errorf("conformance: starting the fake agent on %s:%s: %w", a.network, a.address, err)
	}
	// A TCP port 0 becomes a real port: the next agent takes the same one.
	a.address = srv.Addr()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background()) }()
	select {
	case <-srv.Ready():
	case err := <-served:
		return fmt.Errorf("conformance: the fake agent stopped at once: %w", err)
	}
	a.srv, a.served = srv, served
	a.all = append(a.all, srv)
	return nil
}

// stop shuts the running agent down (releasing hanging calls) and waits
// for it; the socket is gone when it returns.
func (a *agent) stop() error {
	if a.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := a.srv.Shutdown(ctx)
	if serr := <-a.served; err == nil {
		err = serr
	}
	a.srv = nil
	if err != nil {
		return fmt.Errorf("conformance: stopping the fake agent: %w", err)
	}
	return nil
}

// restart replaces the running agent (if any) by one with faults f.
func (a *agent) restart(f fakeagent.Faults) error {
	if err := a.stop(); err != nil {
		return err
	}
	return a.start(f)
}

// requests returns the records of the running agent.
func (a *agent) requests() []fakeagent.Record {
	if a.srv == nil {
		return nil
	}
	return a.srv.Requests()
}

// String is the agent's address as the app under test must dial it.
func (a *agent) String() string { return a.network + ":" + a.address }
