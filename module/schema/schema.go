// Package schema holds the module⇄agent messages under the import path
// upstream's schema package has, for code written against it (upstream's
// gin example applies RespActions with schema.AddHdr and friends). The
// types are the wire package's, so a schema.RPCMsgOut is a
// module.RPCMsgOut.
package schema

import "github.com/seed-a2a44e50/ngwaf-helloworld/module/wire"

type (
	// RPCMsgIn describes a request (and later its response) to the agent.
	RPCMsgIn = wire.RPCMsgIn
	// RPCMsgOut is the agent's decision.
	RPCMsgOut = wire.RPCMsgOut
	// RPCMsgIn2 reports the outcome of a request the agent gave a RequestID.
	RPCMsgIn2 = wire.RPCMsgIn2
	// Action edits one response header: Code says how, Args name the
	// header and (except for DelHdr) the value.
	Action = wire.Action
)

// Response header action codes carried in Action.Code.
const (
	AddHdr   = wire.AddHdr   // add the value to the header
	SetHdr   = wire.SetHdr   // set the header to the value
	SetNEHdr = wire.SetNEHdr // set the header unless it is already set
	DelHdr   = wire.DelHdr   // delete the header
)
