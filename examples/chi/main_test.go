package main

import (
	"testing"

	"github.com/seed-a2a44e50/ngwaf-helloworld/examples/internal/exampletest"
)

func TestTheAgentAllowsAndBlocks(t *testing.T) {
	exampletest.AllowsAndBlocks(t, newApp, exampletest.Cases("Hello from chi!\n"))
}

func TestRunServesUntilCancelled(t *testing.T) {
	exampletest.ServesUntilCancelled(t, "chi", newApp)
}
