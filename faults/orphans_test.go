package faults

import (
	"fmt"
	"net"
	"net/rpc"
	"sync"
	"time"

	"github.com/seed-a2a44e50/ngwaf-helloworld/module/wire"
)

// orphans sends PreRequests with signals straight to the agent over the
// wire and never sends their UpdateRequests: each RequestID the agent
// hands out must expire. (The module always sends UpdateRequest, so load
// through the app alone would never prove expiry.)
type orphans struct {
	stopC chan struct{}
	done  chan struct{}

	mu     sync.Mutex
	sent   int   // PreRequests answered
	withID int   // of those, with a RequestID
	err    error // the first failure, which ends the sending
}

// sendOrphans sends one PreRequest every interval to the agent at addr,
// at most max, until stopped.
func sendOrphans(addr agentAddr, interval time.Duration, max int) *orphans {
	o := &orphans{stopC: make(chan struct{}), done: make(chan struct{})}
	go o.run(addr, interval, max)
	return o
}

func (o *orphans) run(addr agentAddr, interval time.Duration, max int) {
	defer close(o.done)
	nc, err := net.DialTimeout(addr.network, addr.address, 5*time.Second)
	if err != nil {
		o.fail(fmt.Errorf("dialing the agent: %w", err))
		return
	}
	client := rpc.NewClientWithCodec(wire.NewClientCodec(nc))
	defer client.Close()

	now := time.Now()
	var out wire.RPCMsgOut
	if err := client.Call(wire.MethodModuleInit, &wire.RPCMsgIn{
		ModuleVersion: "faults-orphans 1.0", ServerVersion: "test", ServerFlavor: "soak",
		Timestamp: now.Unix(), NowMillis: now.UnixMilli(),
	}, &out); err != nil {
		o.fail(fmt.Errorf("ModuleInit: %w", err))
		return
	}

	tick := time.NewTicker(interval)
	defer tick.Stop()
	for range max {
		select {
		case <-o.stopC:
			return
		case <-tick.C:
		}
		now := time.Now()
		in := &wire.RPCMsgIn{
			ModuleVersion: "faults-orphans 1.0", ServerVersion: "test", ServerFlavor: "soak",
			ServerName: "soak.test", Timestamp: now.Unix(), NowMillis: now.UnixMilli(),
			RemoteAddr: "127.0.0.1", Method: "GET", Scheme: "http", URI: attackQuery, Protocol: "HTTP/1.1",
			ResponseCode: -1, ResponseSize: -1,
			HeadersIn: [][2]string{{"Host", "soak.test"}, {"User-Agent", "faults-orphans"}},
		}
		var out wire.RPCMsgOut
		if err := client.Call(wire.MethodPreRequest, in, &out); err != nil {
			o.fail(fmt.Errorf("PreRequest: %w", err))
			return
		}
		o.mu.Lock()
		o.sent++
		if out.RequestID != "" {
			o.withID++
		}
		o.mu.Unlock()
	}
}

func (o *orphans) fail(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err == nil {
		o.err = err
	}
}

// stop ends the sending, closes the connection and reports the counts.
func (o *orphans) stop() (sent, withID int, err error) {
	select {
	case <-o.stopC:
	default:
		close(o.stopC)
	}
	<-o.done
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.sent, o.withID, o.err
}
