// Package faults holds the fault suite and the soak test of the project:
// helloworld (wrapped by the module) and the fake agent run as separate
// processes, built once per run, while a steady load of benign and attack
// requests goes through the app and the agent is killed, hangs, answers
// garbage, slows down or loses its socket. Every response is counted: the
// app must answer each request (fail open), within the module's timeout,
// and get back to inspecting once a healthy agent is back, without leaking
// goroutines, file descriptors or memory.
//
// The package holds tests only:
//
//	go test ./faults/                                  # the fault suite
//	SOAK_DURATION=3m go test -run Soak -v ./faults/    # the soak test
package faults
