package module

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// fixedInspector allows every request with the given request headers.
type fixedInspector struct{ headers [][2]string }

func (f fixedInspector) ModuleInit(*RPCMsgIn, *RPCMsgOut) error { return nil }
func (f fixedInspector) PreRequest(_ *RPCMsgIn, out *RPCMsgOut) error {
	out.WAFResponse = 200
	out.RequestHeaders = f.headers
	return nil
}
func (f fixedInspector) PostRequest(*RPCMsgIn, *RPCMsgOut) error    { return nil }
func (f fixedInspector) UpdateRequest(*RPCMsgIn2, *RPCMsgOut) error { return nil }

// FuzzSigsciHeaders sends client headers of any name, case and value: the
// handler must only ever see the X-Sigsci-* headers the agent gave.
func FuzzSigsciHeaders(f *testing.F) {
	f.Add("X-Sigsci-Tags", "forged", "SQLI")
	f.Add("x-sIgScI-requestid", "x", "")
	f.Add("X-Sigsci-", "", "XSS")
	f.Add("X-Sigsci-Agentresponse", "406", "")
	f.Add("X-Sigsci\x00-Tags", "v", "a,b")
	f.Add("x-sigsci-tags ", "v", "")
	f.Fuzz(func(t *testing.T, name, value, agentTags string) {
		var agent [][2]string
		if agentTags != "" {
			agent = [][2]string{{"X-Sigsci-Tags", agentTags}}
		}
		var got http.Header
		m, err := NewModule(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = r.Header.Clone() }),
			CustomInspector(fixedInspector{headers: agent}, nil, nil), Logger(discardLogger()))
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header[name] = []string{value} // as sent, not canonicalized
		r.Header.Add(name, value)        // and canonicalized
		m.ServeHTTP(httptest.NewRecorder(), r)

		for k, vs := range got {
			if !hasSigsciPrefix(k) {
				continue
			}
			switch {
			case k == "X-Sigsci-Agentresponse" && len(vs) == 1 && vs[0] == "200":
			case k == "X-Sigsci-Tags" && agentTags != "" && len(vs) == 1 && vs[0] == agentTags:
			default:
				t.Fatalf("client header %q=%q reached the handler as %q=%q", name, value, k, vs)
			}
		}
	})
}
