package main

import (
	"os"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/seed-a2a44e50/ngwaf-helloworld/examples/internal/exampletest"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

func TestTheAgentAllowsAndBlocks(t *testing.T) {
	exampletest.AllowsAndBlocks(t, newApp, append(exampletest.Cases("Hello from gin!\n"),
		exampletest.Case{Name: "a status without a body reaches the client", Method: "DELETE", Path: "/item", WantCode: 204},
	))
}

func TestRunServesUntilCancelled(t *testing.T) {
	exampletest.ServesUntilCancelled(t, "gin", newApp)
}
