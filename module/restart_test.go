package module

import (
	"net/http"
	"sync"
	"testing"
)

func block406(*RPCMsgIn) (RPCMsgOut, error) { return RPCMsgOut{WAFResponse: 406}, nil }

// fillPool makes n requests wait at the agent at the same time, so that
// the module ends up with n open, idle connections.
func fillPool(t *testing.T, a *testAgent, m *Module, n int) {
	t.Helper()
	arrived := make(chan struct{}, n)
	proceed := make(chan struct{})
	a.setDecide(func(*RPCMsgIn) (RPCMsgOut, error) {
		arrived <- struct{}{}
		<-proceed
		return RPCMsgOut{WAFResponse: 200}, nil
	})
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { serve(m, get("/")) })
	}
	for range n {
		<-arrived
	}
	close(proceed)
	wg.Wait()
	require.Equal(t, n, m.Stats().RPC.OpenConns, "open connections before the restart")
	require.Zero(t, m.Stats().FailOpen)
}

// restart kills the agent (listener and every connection) and starts it
// again on the same socket path or TCP port.
func (a *testAgent) restart() {
	a.stop()
	a.listen()
}

func TestAnAgentRestartLetsNoAttackThrough(t *testing.T) {
	for _, network := range []string{"unix", "tcp"} {
		t.Run("over "+network+", sequential attacks after the restart are all blocked", func(t *testing.T) {
			const conns = 8
			a := startAgent(t, network)
			m := a.module(t, okHandler, MaxConns(conns))
			fillPool(t, a, m, conns)

			a.restart()
			a.setDecide(block406)
			var codes []int
			for range 2 * conns {
				codes = append(codes, serve(m, get("/?q=1'+OR+'1'='1")).Code)
			}
			for i, c := range codes {
				assert.Equal(t, http.StatusNotAcceptable, c, "attack %d of %v", i, codes)
			}
			st := m.Stats()
			assert.Zero(t, st.FailOpen)
			assert.Equal(t, uint64(1), st.RPC.Retries, "one call meets a dead connection; the rest are discarded unused")
		})
	}
	t.Run("under 16-way concurrency, only the requests in flight at the kill fail open", func(t *testing.T) {
		const clients = 16
		a := startAgent(t, "unix")
		m := a.module(t, okHandler, MaxConns(clients))
		fillPool(t, a, m, clients)

		// clients requests are at the agent when it dies.
		arrived := make(chan struct{}, clients)
		a.setDecide(func(*RPCMsgIn) (RPCMsgOut, error) {
			arrived <- struct{}{}
			<-a.release
			return RPCMsgOut{}, nil
		})
		var wg sync.WaitGroup
		for range clients {
			wg.Go(func() { serve(m, get("/in-flight")) })
		}
		for range clients {
			<-arrived
		}
		a.stop()
		wg.Wait() // each retried once, found no agent, failed open
		require.Equal(t, uint64(clients), m.Stats().FailOpen)

		a.listen()
		a.setDecide(block406)
		var mu sync.Mutex
		codes := map[int]int{}
		for range clients {
			wg.Go(func() {
				for range 10 {
					c := serve(m, get("/?q=<script>alert(1)</script>")).Code
					mu.Lock()
					codes[c]++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		assert.Equal(t, map[int]int{http.StatusNotAcceptable: clients * 10}, codes)
		assert.Equal(t, uint64(clients), m.Stats().FailOpen, "no fail-open after the restart")
	})
}
