package fakeagent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/rpc"
	"os"
	"runtime"
	"time"

	"github.com/seed-a2a44e50/ngwaf-helloworld/module/wire"
)

// Probe checks that an agent (this one or a real one) answers at address,
// in any form ParseAddress accepts: it dials, calls RPC.ModuleInit and
// returns the reply. ctx bounds the whole probe; give it a deadline.
// version is sent as part of the ModuleVersion.
func Probe(ctx context.Context, address, version string) (wire.RPCMsgOut, error) {
	var out wire.RPCMsgOut
	network, addr, err := ParseAddress(address)
	if err != nil {
		return out, err
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return out, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	client := rpc.NewClientWithCodec(wire.NewClientCodec(c))
	defer client.Close()

	now := time.Now()
	in := wire.RPCMsgIn{
		ModuleVersion: probeModuleVersion + " " + version,
		ServerVersion: runtime.Version(),
		ServerFlavor:  "probe",
		Timestamp:     now.Unix(),
		NowMillis:     now.UnixMilli(),
	}
	call := client.Go(wire.MethodModuleInit, &in, &out, make(chan *rpc.Call, 1))
	select {
	case <-call.Done:
		switch {
		case call.Error == nil:
			return out, nil
		case ctx.Err() != nil:
			return out, fmt.Errorf("%s: no reply in time: %w", wire.MethodModuleInit, ctx.Err())
		case errors.Is(call.Error, os.ErrDeadlineExceeded): // ctx's deadline, on the connection
			return out, fmt.Errorf("%s: no reply in time: %w", wire.MethodModuleInit, context.DeadlineExceeded)
		default:
			return out, fmt.Errorf("%s: %w", wire.MethodModuleInit, call.Error)
		}
	case <-ctx.Done():
		// out may still be written by the client's reader: don't touch it.
		return wire.RPCMsgOut{}, fmt.Errorf("%s: no reply in time: %w", wire.MethodModuleInit, ctx.Err())
	}
}
