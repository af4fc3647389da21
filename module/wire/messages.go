// Package wire is the Next-Gen WAF (Signal Sciences) module⇄agent RPC
// protocol: the message types exchanged with the agent and the net/rpc
// codecs that frame them as msgpack-RPC.
//
// Messages are msgpack maps keyed by Go field names (tinylib/msgp's default
// encoding), with generated marshalling code in messages_gen.go. Both the
// module (client side) and the fake agent (server side) speak the protocol
// through this package only.
package wire

//go:generate go run github.com/tinylib/msgp@v1.6.5 -file messages.go -o messages_gen.go

//msgp:tuple Action

// RPCMsgIn describes one HTTP request (and, after the fact, its response) as
// sent by a module to the agent with ModuleInit, PreRequest and PostRequest.
type RPCMsgIn struct {
	AccessKeyID    string      // deprecated, kept for wire compatibility
	ModuleVersion  string      // e.g. "sigsci-module-golang 1.16.0"
	ServerVersion  string      // e.g. the Go runtime version
	ServerFlavor   string      // free-form server description
	ServerName     string      // the request's Host
	Timestamp      int64       // request start, Unix seconds
	NowMillis      int64       // request start, Unix milliseconds
	RemoteAddr     string      // client IP, without a port
	Method         string      // HTTP method
	Scheme         string      // "http" or "https"
	URI            string      // path?query as received
	Protocol       string      // e.g. "HTTP/1.1"
	TLSProtocol    string      // e.g. "TLSv1.3", empty without TLS
	TLSCipher      string      // IANA cipher suite name, empty without TLS
	WAFResponse    int32       // the agent's decision, when known
	ResponseCode   int32       // -1 while unknown
	ResponseMillis int64       // 0 while unknown
	ResponseSize   int64       // -1 while unknown
	HeadersIn      [][2]string // request headers, Host first
	HeadersOut     [][2]string // response headers
	PostBody       string      // request body, when inspected
}

// RPCMsgOut is the agent's answer to ModuleInit and PreRequest.
type RPCMsgOut struct {
	WAFResponse    int32       // 200 allow, 300-599 block, anything else fail open
	RequestID      string      // set when the agent wants UpdateRequest
	RequestHeaders [][2]string // headers to set on the request for the application
	RespActions    []Action    `msg:",omitempty"` // edits to the response headers
}

// RPCMsgIn2 reports the outcome of a request the agent gave a RequestID.
type RPCMsgIn2 struct {
	RequestID      string
	ResponseCode   int32
	ResponseMillis int64
	ResponseSize   int64
	HeadersOut     [][2]string
}

// Action edits one response header. On the wire it is a 2-element array
// [Code, Args].
type Action struct {
	Code int8
	Args []string
}

// Response header action codes carried in Action.Code.
const (
	AddHdr   int8 = 1 // add Args[1] to header Args[0]
	SetHdr   int8 = 2 // set header Args[0] to Args[1]
	SetNEHdr int8 = 3 // set header Args[0] to Args[1] unless already set
	DelHdr   int8 = 4 // delete header Args[0]
)

// RPC method names, as registered by the agent.
const (
	MethodModuleInit    = "RPC.ModuleInit"
	MethodPreRequest    = "RPC.PreRequest"
	MethodPostRequest   = "RPC.PostRequest"
	MethodUpdateRequest = "RPC.UpdateRequest"
)
