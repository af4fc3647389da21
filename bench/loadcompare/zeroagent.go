package loadcompare

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/rpc"
	"os"
	"sync"
	"sync/atomic"

	"github.com/tinylib/msgp/msgp"

	"github.com/seed-a2a44e50/ngwaf-helloworld/module/wire"
)

// ZeroAgentFlag is the first argument that turns a program into the
// zero-cost agent (see RunZeroAgentMain).
const ZeroAgentFlag = "-internal-zero-agent"

// ServeZeroAgent is an agent that costs as little as an agent can: it
// frames each call and answers it from a reply encoded once (200 for
// ModuleInit and PreRequest, 0 for PostRequest and UpdateRequest), without
// decoding the argument or inspecting anything. Next to it, the module's
// own cost shows against the floor. It prints a ready line like the fake
// agent's, serves the two fake agent counters the comparison scrapes on
// adminAddr's /metrics, and runs until ctx is done.
func ServeZeroAgent(ctx context.Context, network, address, adminAddr string, ready io.Writer) error {
	if network == "unix" {
		_ = os.Remove(address)
	}
	ln, err := net.Listen(network, address)
	if err != nil {
		return fmt.Errorf("zero agent: %w", err)
	}
	admin, err := net.Listen("tcp", adminAddr)
	if err != nil {
		ln.Close()
		return fmt.Errorf("zero agent: admin: %w", err)
	}
	var calls, conns atomic.Uint64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "fakeagent_rpc_calls_total{method=\"PreRequest\"} %d\nfakeagent_connections_total %d\n", calls.Load(), conns.Load())
	})}
	go srv.Serve(admin)
	go func() {
		<-ctx.Done()
		ln.Close()
		srv.Close()
	}()
	allow, err := (&wire.RPCMsgOut{WAFResponse: 200}).MarshalMsg(nil)
	if err != nil {
		return err
	}
	zero := msgp.AppendInt(nil, 0)
	fmt.Fprintf(ready, "fakeagent: listening on %s:%s (mode zero-cost)\n", ln.Addr().Network(), ln.Addr())
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("zero agent: %w", err)
		}
		conns.Add(1)
		wg.Go(func() {
			defer c.Close()
			codec := wire.NewServerCodec(c)
			var req rpc.Request
			buf := make([]byte, 0, 64)
			for {
				if err := codec.ReadRequestHeader(&req); err != nil {
					return
				}
				if err := codec.ReadRequestBody(nil); err != nil {
					return
				}
				result := zero
				if req.ServiceMethod == wire.MethodPreRequest || req.ServiceMethod == wire.MethodModuleInit {
					result = allow
				}
				if req.ServiceMethod == wire.MethodPreRequest {
					calls.Add(1)
				}
				buf = msgp.AppendArrayHeader(buf[:0], 4)
				buf = msgp.AppendInt(buf, 1)
				buf = msgp.AppendUint64(buf, req.Seq)
				buf = msgp.AppendNil(buf)
				buf = append(buf, result...)
				if _, err := c.Write(buf); err != nil {
					return
				}
			}
		})
	}
}

// RunZeroAgentMain is what a program does when asked to be the zero-cost
// agent: args are -rpc-address (a path or host:port) and -admin-address.
// It serves until SIGTERM.
func RunZeroAgentMain(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("zero agent", flag.ContinueOnError)
	rpcAddr := fs.String("rpc-address", "", "Unix socket path or host:port")
	admin := fs.String("admin-address", "", "host:port of /metrics")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *rpcAddr == "" || *admin == "" {
		return errors.New("zero agent: want -rpc-address and -admin-address")
	}
	network := "tcp"
	if len(*rpcAddr) > 0 && (*rpcAddr)[0] == '/' {
		network = "unix"
	}
	ctx, stop := signalContext()
	defer stop()
	return ServeZeroAgent(ctx, network, *rpcAddr, *admin, stdout)
}

// ZeroAgentArgv is the argv that runs this very program as the zero-cost
// agent, for programs whose main calls RunZeroAgentMain when their first
// argument is ZeroAgentFlag.
func ZeroAgentArgv() ([]string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return []string{exe, ZeroAgentFlag}, nil
}
