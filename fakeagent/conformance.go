package fakeagent

import (
	"net"
	"strings"

	"github.com/seed-a2a44e50/ngwaf-helloworld/module/wire"
)

// Deviation names one way a module departed from the protocol. Deviations
// are listed per request in Record.Deviations, counted in Stats and in the
// fakeagent_deviations_total metric. The set may grow.
type Deviation string

// The deviations the fake agent detects.
const (
	// DeviationRequestIDNotUpdated: a RequestID got no UpdateRequest within
	// the update expiry.
	DeviationRequestIDNotUpdated Deviation = "request_id_not_updated"
	// DeviationUnknownRequestID: an UpdateRequest named a RequestID that is
	// not pending (never given, already updated, or expired).
	DeviationUnknownRequestID Deviation = "unknown_request_id"
	// DeviationRemoteAddrWithPort: RemoteAddr carries a port; it must be
	// the client IP alone.
	DeviationRemoteAddrWithPort Deviation = "remote_addr_with_port"
	// DeviationMissingRemoteAddr: RemoteAddr is empty.
	DeviationMissingRemoteAddr Deviation = "missing_remote_addr"
	// DeviationMissingHost: HeadersIn has no Host header.
	DeviationMissingHost Deviation = "missing_host"
	// DeviationInvalidTimestamp: Timestamp or NowMillis is zero or negative.
	DeviationInvalidTimestamp Deviation = "invalid_timestamp"
	// DeviationMissingMethod: Method is empty.
	DeviationMissingMethod Deviation = "missing_method"
	// DeviationMissingURI: URI is empty.
	DeviationMissingURI Deviation = "missing_uri"
	// DeviationInvalidResponseCode: PostRequest or UpdateRequest carried a
	// ResponseCode below 100.
	DeviationInvalidResponseCode Deviation = "invalid_response_code"
	// DeviationUnknownMethod: a call named a method the agent does not
	// serve (it is answered with an RPC error).
	DeviationUnknownMethod Deviation = "unknown_method"
)

// allDeviations lists every Deviation, for metrics that should show zero
// before the first occurrence.
var allDeviations = []Deviation{
	DeviationRequestIDNotUpdated, DeviationUnknownRequestID,
	DeviationRemoteAddrWithPort, DeviationMissingRemoteAddr, DeviationMissingHost,
	DeviationInvalidTimestamp, DeviationMissingMethod, DeviationMissingURI,
	DeviationInvalidResponseCode, DeviationUnknownMethod,
}

// checkRequest returns the deviations visible in one PreRequest or
// PostRequest message on its own.
func checkRequest(in *wire.RPCMsgIn, post bool) []Deviation {
	var d []Deviation
	switch {
	case in.RemoteAddr == "":
		d = append(d, DeviationMissingRemoteAddr)
	case hasPort(in.RemoteAddr):
		d = append(d, DeviationRemoteAddrWithPort)
	}
	if !hasHeader(in.HeadersIn, "Host") {
		d = append(d, DeviationMissingHost)
	}
	if in.Timestamp <= 0 || in.NowMillis <= 0 {
		d = append(d, DeviationInvalidTimestamp)
	}
	if in.Method == "" {
		d = append(d, DeviationMissingMethod)
	}
	if in.URI == "" {
		d = append(d, DeviationMissingURI)
	}
	if post && in.ResponseCode < 100 {
		d = append(d, DeviationInvalidResponseCode)
	}
	return d
}

// hasPort reports whether addr is host:port rather than a bare IP (a bare
// IPv6 address has colons but no port).
func hasPort(addr string) bool {
	_, port, err := net.SplitHostPort(addr)
	return err == nil && port != ""
}

func hasHeader(h [][2]string, name string) bool {
	for _, kv := range h {
		if strings.EqualFold(kv[0], name) && kv[1] != "" {
			return true
		}
	}
	return false
}
