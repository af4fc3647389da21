package module

import (
	"net/http"
	"time"
)

// NewRPCMsgIn describes r to the agent as a Module does, for code that
// calls an Inspector itself (framework middleware, as in upstream's gin
// example): module and server identifiers from mcfg (the defaults when
// mcfg is nil), the request line, Host first among the headers (or
// mcfg's RawHeaderExtractor), and postbody as the body. code, size and dur
// describe the response: pass -1, -1, 0 for a PreRequest (upstream's gin
// example passes 0s, which the agent reads the same way) and the real
// values for a PostRequest. r is not changed: its body is not read and
// client-sent X-Sigsci-* headers are not removed.
func NewRPCMsgIn(mcfg *ModuleConfig, r *http.Request, postbody []byte, code int, size int64, dur time.Duration) *RPCMsgIn {
	if mcfg == nil {
		mcfg, _ = newModuleConfig(nil) // the defaults are valid
	}
	m := &Module{config: mcfg}
	in := m.newMsgIn(r, time.Now(), string(postbody))
	in.ResponseCode = int32(code)
	in.ResponseSize = size
	in.ResponseMillis = dur.Milliseconds()
	return in
}
