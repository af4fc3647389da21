package main

import (
	"fmt"
	"log"
	"net/http"

	"github.com/seed-a2a44e50/ngwaf-helloworld/module"
)

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Hello! The agent said %s\n", r.Header.Get("X-Sigsci-Agentresponse"))
	})
	m, err := module.NewModule(hello, module.Socket("unix", "/sigsci/tmp/sigsci.sock"))
	if err != nil { // an invalid option; an agent that is down is not an error
		return err
	}
	defer m.Close() // waits for the last background calls, then closes the connections
	return http.ListenAndServe(":8000", m)
}
