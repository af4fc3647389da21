package loadcompare

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Ping-pong sizes: about a PreRequest for a GET as the module encodes it,
// and an allow reply.
const (
	PingSize = 400
	PongSize = 40
)

// EchoReadyPrefix starts the line ServeEcho prints once it listens.
const EchoReadyPrefix = "echo: listening on "

// ServeEcho is the far end of the ping-pong floor measurement: it listens
// on network/address, prints the ready line to ready, and on every
// connection answers each PingSize-byte message with PongSize bytes, until
// ctx is done. No parsing, no allocation per message: what is left is the
// cost of the sockets and of the Go runtime waking goroutines.
func ServeEcho(ctx context.Context, network, address string, ready io.Writer) error {
	ln, err := net.Listen(network, address)
	if err != nil {
		return fmt.Errorf("echo: %w", err)
	}
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	fmt.Fprintf(ready, "%s%s:%s\n", EchoReadyPrefix, ln.Addr().Network(), ln.Addr())
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("echo: %w", err)
		}
		go func() {
			defer c.Close()
			in, out := make([]byte, PingSize), make([]byte, PongSize)
			for {
				if _, err := io.ReadFull(c, in); err != nil {
					return
				}
				if _, err := c.Write(out); err != nil {
					return
				}
			}
		}()
	}
}

// EchoProcess starts an echo server process with argv (which must run
// ServeEcho) on a Unix socket in dir or on TCP loopback, and returns it
// with its network and address.
func EchoProcess(ctx context.Context, argv []string, network, dir string) (p *Process, addr string, err error) {
	address := "127.0.0.1:0"
	if network == "unix" {
		address = filepath.Join(dir, "echo.sock")
	}
	args := append(append([]string(nil), argv[1:]...), network, address)
	p, err = StartProcess(ctx, "echo-"+network, dir, EchoReadyPrefix, time.Minute, argv[0], args...)
	if err != nil {
		return nil, "", err
	}
	where := strings.TrimPrefix(p.ReadyLine, EchoReadyPrefix)
	_, addr, ok := strings.Cut(where, ":")
	if !ok {
		p.Stop()
		return nil, "", fmt.Errorf("echo server ready line %q: no address", p.ReadyLine)
	}
	return p, addr, nil
}

// PingPong sends PingSize bytes and waits for PongSize bytes on conn,
// sequentially, for d (at most maxCalls times), and returns the round trip
// times (ns).
func PingPong(conn net.Conn, d time.Duration, maxCalls int) (*hdrhistogram.Histogram, error) {
	h := newLatencyHistogram()
	ping, pong := make([]byte, PingSize), make([]byte, PongSize)
	deadline := time.Now().Add(d)
	if err := conn.SetDeadline(deadline.Add(10 * time.Second)); err != nil {
		return nil, err
	}
	for i := 0; i < maxCalls && time.Now().Before(deadline); i++ {
		t0 := time.Now()
		if _, err := conn.Write(ping); err != nil {
			return nil, err
		}
		if _, err := io.ReadFull(conn, pong); err != nil {
			return nil, err
		}
		recordLatency(h, time.Since(t0))
	}
	return h, nil
}

// RunEchoMain is what a program does when asked to be the echo server:
// args are network and address. It serves until SIGTERM.
func RunEchoMain(args []string, stdout io.Writer) error {
	if len(args) != 2 {
		return errors.New("echo: want network and address")
	}
	ctx, stop := signalContext()
	defer stop()
	return ServeEcho(ctx, args[0], args[1], stdout)
}

func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
}

// EchoArgv is the argv that runs this very program as an echo server, for
// programs whose main calls RunEchoMain when their first argument is
// EchoFlag.
func EchoArgv() ([]string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return []string{exe, EchoFlag}, nil
}

// EchoFlag is the first argument that turns a program into the echo
// server (see RunEchoMain).
const EchoFlag = "-internal-echo-server"
