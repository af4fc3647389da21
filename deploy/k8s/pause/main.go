// Command pause is the pod sandbox's process for the test node
// (node.sh): it holds the pod's namespaces open and exits on SIGTERM or
// SIGINT. No registry is reachable to pull registry.k8s.io/pause, so the
// node's sandbox image is this static binary on an empty image.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// As PID 1 of the sandbox it inherits orphaned processes: none are
	// expected (each container has its own PID namespace), and SIGCHLD
	// needs no handling because the kernel reaps children of a process
	// that ignores it.
	signal.Ignore(syscall.SIGCHLD)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
}
