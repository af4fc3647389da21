package fakeagent

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a2a44e50/ngwaf-helloworld/fakeagent/detect"
	"github.com/seed-a2a44e50/ngwaf-helloworld/module/wire"
)

func TestRequestIDsEncodeAsFixstr(t *testing.T) {
	const n = 20_000
	seen := make(map[string]bool, n)
	for range n {
		id := newRequestID()
		require.Regexp(t, requestIDPattern, id)
		require.False(t, seen[id], "RequestID %s given twice", id)
		seen[id] = true
	}

	t.Run("in the reply as encoded on the wire", func(t *testing.T) {
		id := newRequestID()
		b, err := (&wire.RPCMsgOut{WAFResponse: 406, RequestID: id}).MarshalMsg(nil)
		require.NoError(t, err)
		key := append([]byte{0xa0 | byte(len("RequestID"))}, "RequestID"...)
		i := bytes.Index(b, key)
		require.GreaterOrEqual(t, i, 0, "the RequestID key is in % x", b)
		header := b[i+len(key)]
		assert.Equal(t, byte(0xa0|RequestIDLength), header, "a fixstr of %d bytes, not str8 (0xd9)", RequestIDLength)
		assert.Less(t, RequestIDLength, 32, "fixstr holds at most 31 bytes")
		assert.Equal(t, id, string(b[i+len(key)+1:i+len(key)+1+RequestIDLength]))
	})
}

func TestAgentHeadersAreSpelledAsTheRealAgentSpellsThem(t *testing.T) {
	t.Run("tags", func(t *testing.T) {
		s := Start(t)
		out := pre(t, dial(t, s), sqli())
		require.NotEmpty(t, out.RequestHeaders)
		assert.Equal(t, "X-SigSci-Tags", out.RequestHeaders[0][0], "byte for byte: the PHP module looks it up case-sensitively")
		assert.Contains(t, out.RequestHeaders[0][1], "SQLI")
		assert.Equal(t, out.RequestHeaders, recordOf(t, s).Out.RequestHeaders)
	})
	t.Run("redirect", func(t *testing.T) {
		s := Start(t, WithRules([]detect.Rule{{
			ID:         "moved",
			Conditions: []detect.Condition{{Field: detect.FieldPath, Op: detect.OpPrefix, Value: "/old"}},
			Action:     detect.RuleAction{Type: detect.ActionRedirect, Code: 301, URL: "https://example.com/new"},
		}}))
		out := pre(t, dial(t, s), request("GET", "/old/page"))
		assert.Equal(t, int32(301), out.WAFResponse)
		assert.Contains(t, out.RequestHeaders, [2]string{"X-Sigsci-Redirect", "https://example.com/new"},
			"as the PHP, Node.js and Python modules look it up")
	})
	t.Run("other names pass unchanged", func(t *testing.T) {
		h := [][2]string{{"x-sigsci-tags", "XSS"}, {"X-SIGSCI-REDIRECT", "/x"}, {"X-Other", "1"}}
		assert.Equal(t, [][2]string{{"X-SigSci-Tags", "XSS"}, {"X-Sigsci-Redirect", "/x"}, {"X-Other", "1"}}, agentHeaderCase(h))
		assert.Equal(t, "x-sigsci-tags", h[0][0], "the engine's slice is not changed")
	})
}
