package main

import (
	"testing"

	"github.com/seed-a2a44e50/ngwaf-helloworld/examples/internal/exampletest"
)

func TestTheAgentAllowsAndBlocks(t *testing.T) {
	exampletest.AllowsAndBlocks(t, newApp, append(exampletest.Cases("Hello from echo!\n"),
		exampletest.Case{Name: "a handler's error is rendered by echo", Method: "GET", Path: "/teapot", WantCode: 418},
	))
}

func TestRunServesUntilCancelled(t *testing.T) {
	exampletest.ServesUntilCancelled(t, "echo", newApp)
}
