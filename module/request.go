package module

import (
	"crypto/tls"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"
)

// newMsgIn describes r to the agent as PreRequest expects it.
func (m *Module) newMsgIn(r *http.Request, start time.Time, body string) *RPCMsgIn {
	// The request line as received, unless it is in absolute form
	// (proxy requests): the agent wants path?query.
	uri := r.RequestURI
	if !strings.HasPrefix(uri, "/") {
		uri = r.URL.RequestURI()
	}
	in := &RPCMsgIn{
		ModuleVersion:  m.config.moduleIdentifier,
		ServerVersion:  m.config.serverIdentifier,
		ServerFlavor:   m.config.serverFlavor,
		ServerName:     r.Host,
		Timestamp:      start.Unix(),
		NowMillis:      start.UnixMilli(),
		RemoteAddr:     remoteIP(r.RemoteAddr),
		Method:         r.Method,
		Scheme:         "http",
		URI:            uri,
		Protocol:       r.Proto,
		ResponseCode:   -1,
		ResponseMillis: 0,
		ResponseSize:   -1,
		HeadersIn:      m.requestHeaders(r),
		PostBody:       body,
	}
	if r.TLS != nil {
		in.Scheme = "https"
		in.TLSProtocol = tlsProtocolName(r.TLS.Version)
		in.TLSCipher = tls.CipherSuiteName(r.TLS.CipherSuite)
	}
	return in
}

// remoteIP strips the port from a RemoteAddr ("1.2.3.4:5", "[::1]:5").
func remoteIP(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// tlsProtocolName turns crypto/tls's "TLS 1.3" into the agent's "TLSv1.3".
func tlsProtocolName(v uint16) string {
	name := tls.VersionName(v)
	if rest, ok := strings.CutPrefix(name, "TLS "); ok {
		return "TLSv" + rest
	}
	if rest, ok := strings.CutPrefix(name, "SSL "); ok {
		return "SSLv" + rest
	}
	return name
}

// requestHeaders lists the request headers with Host first, the rest in a
// stable order, one pair per value.
func (m *Module) requestHeaders(r *http.Request) [][2]string {
	if m.config.headerExtractor != nil {
		raw := m.config.headerExtractor(r)
		out := make([][2]string, 0, len(raw)+1)
		out = append(out, [2]string{"Host", r.Host})
		for _, kv := range raw {
			if !strings.EqualFold(kv[0], "Host") {
				out = append(out, kv)
			}
		}
		return out
	}
	n := 1
	var keysBuf [32]string // most requests have fewer headers: no allocation
	keys := keysBuf[:0]
	for k, vs := range r.Header {
		keys = append(keys, k)
		n += len(vs)
	}
	slices.Sort(keys)
	out := make([][2]string, 0, n)
	out = append(out, [2]string{"Host", r.Host})
	for _, k := range keys {
		if k == "Host" {
			continue
		}
		for _, v := range r.Header[k] {
			out = append(out, [2]string{k, v})
		}
	}
	return out
}

// responseHeaders lists response headers in a stable order.
func responseHeaders(h http.Header) [][2]string {
	var keysBuf [32]string
	keys := keysBuf[:0]
	n := 0
	for k, vs := range h {
		keys = append(keys, k)
		n += len(vs)
	}
	slices.Sort(keys)
	out := make([][2]string, 0, n)
	for _, k := range keys {
		for _, v := range h[k] {
			out = append(out, [2]string{k, v})
		}
	}
	return out
}

// sigsciHeaderPrefix marks the headers through which the module tells the
// application what the agent decided.
const sigsciHeaderPrefix = "X-Sigsci-"

// stripSigsciHeaders removes every client-sent X-Sigsci-* header, so the
// application can trust the ones the module sets.
func stripSigsciHeaders(h http.Header) {
	for k := range h {
		if hasSigsciPrefix(k) {
			delete(h, k)
		}
	}
}

func hasSigsciPrefix(name string) bool {
	return len(name) >= len(sigsciHeaderPrefix) && strings.EqualFold(name[:len(sigsciHeaderPrefix)], sigsciHeaderPrefix)
}
