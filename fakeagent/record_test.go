package fakeagent

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a2a44e50/ngwaf-helloworld/module/wire"
)

// rebuilt returns the PostRequest a module that rebuilds its message after
// the response sends for in (Go, Node.js, PHP): the same request fields,
// later clock fields.
func rebuilt(in *wire.RPCMsgIn, status int32, millis int64) *wire.RPCMsgIn {
	p := post(in, status)
	p.Timestamp += 2
	p.NowMillis += 2000 + millis
	p.ResponseMillis = millis
	return p
}

func TestPostRequestMatching(t *testing.T) {
	start := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

	t.Run("a rebuilt PostRequest is matched by method, host, URI and remote address", func(t *testing.T) {
		s := Start(t, WithClock(NewManualClock(start)))
		cl := dial(t, s)
		in := request("GET", "/missing")
		pre(t, cl, in)
		var ack int
		require.NoError(t, invoke(t, cl, wire.MethodPostRequest, rebuilt(in, 404, 3), &ack))
		rec := recordOf(t, s)
		assert.True(t, rec.Pre)
		assert.Equal(t, OutcomePosted, rec.Outcome)
		require.NotNil(t, rec.Response)
		assert.Equal(t, MatchUnique, rec.Response.Match)
		assert.Equal(t, 1, rec.Response.Candidates)
		assert.Equal(t, int32(404), rec.Response.ResponseCode)
	})
	t.Run("a reused message is an exact match, even among several", func(t *testing.T) {
		clock := NewManualClock(start)
		s := Start(t, WithClock(clock))
		cl := dial(t, s)
		first := request("GET", "/slow")
		pre(t, cl, first)
		second := request("GET", "/slow")
		second.Timestamp, second.NowMillis = first.Timestamp+1, first.NowMillis+1000
		pre(t, cl, second)
		var ack int
		// The response timing points at the second, the clock fields at the first.
		clock.Advance(time.Second)
		require.NoError(t, invoke(t, cl, wire.MethodPostRequest, post(first, 500), &ack))
		recs := s.Requests()
		require.Len(t, recs, 2)
		assert.Equal(t, OutcomePosted, recs[0].Outcome)
		assert.Equal(t, MatchExact, recs[0].Response.Match)
		assert.Equal(t, 1, recs[0].Response.Candidates)
		assert.Equal(t, OutcomeNone, recs[1].Outcome)
	})
	t.Run("an ambiguous match takes the request received when the response started, and says so", func(t *testing.T) {
		clock := NewManualClock(start)
		s := Start(t, WithClock(clock))
		cl := dial(t, s)
		for range 3 {
			pre(t, cl, request("GET", "/same"))
			clock.Advance(10 * time.Second)
		}
		// Now start+30s; the second PreRequest came at start+10s.
		var ack int
		require.NoError(t, invoke(t, cl, wire.MethodPostRequest, rebuilt(request("GET", "/same"), 504, 20_000), &ack))
		recs := s.Requests()
		require.Len(t, recs, 3)
		assert.Equal(t, OutcomeNone, recs[0].Outcome)
		assert.Equal(t, OutcomePosted, recs[1].Outcome)
		assert.Equal(t, MatchAmbiguous, recs[1].Response.Match)
		assert.Equal(t, 3, recs[1].Response.Candidates)
		assert.Equal(t, 20*time.Second, recs[1].Response.After)
		assert.Equal(t, OutcomeNone, recs[2].Outcome)

		t.Run("and a matched request is not matched again; a tie goes to the oldest", func(t *testing.T) {
			require.NoError(t, invoke(t, cl, wire.MethodPostRequest, rebuilt(request("GET", "/same"), 504, 20_000), &ack))
			recs := s.Requests()
			require.Len(t, recs, 3)
			assert.Equal(t, OutcomePosted, recs[0].Outcome, "10s before the start, as the third is 10s after")
			assert.Equal(t, MatchAmbiguous, recs[0].Response.Match)
			assert.Equal(t, 2, recs[0].Response.Candidates)
			assert.Equal(t, 3, recs[1].Response.Candidates, "unchanged")
			assert.Equal(t, OutcomeNone, recs[2].Outcome)
		})
	})
	for _, tc := range []struct {
		name   string
		change func(*wire.RPCMsgIn)
	}{
		{"another method", func(in *wire.RPCMsgIn) { in.Method = "POST" }},
		{"another host", func(in *wire.RPCMsgIn) { in.ServerName = "other.example" }},
		{"another URI", func(in *wire.RPCMsgIn) { in.URI = "/missing?x=1" }},
		{"another remote address", func(in *wire.RPCMsgIn) { in.RemoteAddr = "192.0.2.99" }},
	} {
		t.Run("a PostRequest with "+tc.name+" is recorded on its own", func(t *testing.T) {
			s := Start(t, WithClock(NewManualClock(start)))
			cl := dial(t, s)
			in := request("GET", "/missing")
			pre(t, cl, in)
			p := rebuilt(in, 404, 3)
			tc.change(p)
			var ack int
			require.NoError(t, invoke(t, cl, wire.MethodPostRequest, p, &ack))
			recs := s.Requests()
			require.Len(t, recs, 2)
			assert.Equal(t, OutcomeNone, recs[0].Outcome)
			assert.False(t, recs[1].Pre)
			assert.Equal(t, MatchNone, recs[1].Response.Match)
			assert.Zero(t, recs[1].Response.Candidates)
		})
	}
	t.Run("a request older than the match window is not matched", func(t *testing.T) {
		clock := NewManualClock(start)
		s := Start(t, WithClock(clock))
		cl := dial(t, s)
		in := request("GET", "/missing")
		pre(t, cl, in)
		clock.Advance(postMatchWindow + time.Second)
		var ack int
		require.NoError(t, invoke(t, cl, wire.MethodPostRequest, rebuilt(in, 404, 3), &ack))
		recs := s.Requests()
		require.Len(t, recs, 2)
		assert.Equal(t, OutcomeNone, recs[0].Outcome)
		assert.Equal(t, MatchNone, recs[1].Response.Match)
		assert.Empty(t, s.rec.postIndex, "the stale candidate is forgotten")
	})
	t.Run("a request that left the ring is forgotten", func(t *testing.T) {
		s := Start(t, WithRecentRequests(2), WithClock(NewManualClock(start)))
		cl := dial(t, s)
		in := request("GET", "/missing")
		pre(t, cl, in)
		pre(t, cl, request("GET", "/a"))
		pre(t, cl, request("GET", "/b"))
		var ack int
		require.NoError(t, invoke(t, cl, wire.MethodPostRequest, rebuilt(in, 404, 3), &ack))
		recs := s.Requests()
		require.Len(t, recs, 2)
		assert.Equal(t, "/missing", recs[1].In.URI)
		assert.Equal(t, MatchNone, recs[1].Response.Match)
		assert.Len(t, s.rec.postKeys, 1, "only /b (the other went with the ring) is a candidate")
	})
	t.Run("candidates per request are bounded, the oldest forgotten first", func(t *testing.T) {
		s := Start(t, WithClock(NewManualClock(start)))
		cl := dial(t, s)
		for range maxPostCandidates + 5 {
			pre(t, cl, request("GET", "/hot"))
		}
		k := postKeyOf(request("GET", "/hot"))
		require.Len(t, s.rec.postIndex[k], maxPostCandidates)
		assert.Equal(t, uint64(6), s.rec.postIndex[k][0].Seq)
		assert.Len(t, s.rec.postKeys, maxPostCandidates)
	})
	t.Run("a host from the Host header when ServerName is empty", func(t *testing.T) {
		s := Start(t, WithClock(NewManualClock(start)))
		cl := dial(t, s)
		in := request("GET", "/missing")
		in.ServerName = ""
		pre(t, cl, in)
		p := rebuilt(in, 404, 3)
		var ack int
		require.NoError(t, invoke(t, cl, wire.MethodPostRequest, p, &ack))
		assert.Equal(t, MatchUnique, recordOf(t, s).Response.Match)
	})
}

func TestUpdateRequestIsMatchedByRequestID(t *testing.T) {
	s := Start(t)
	cl := dial(t, s)
	out := pre(t, cl, sqli())
	var ack int
	require.NoError(t, invoke(t, cl, wire.MethodUpdateRequest, &wire.RPCMsgIn2{RequestID: out.RequestID, ResponseCode: 406}, &ack))
	rec := recordOf(t, s)
	assert.Equal(t, MatchRequestID, rec.Response.Match)
	assert.Equal(t, 1, rec.Response.Candidates)
}

func TestStatusLineInHeadersOutIsAQuirk(t *testing.T) {
	statusLine := [][2]string{{"HTTP/1.1 406 Not Acceptable", ""}, {"Content-Type", "text/plain"}}
	t.Run("in a PostRequest", func(t *testing.T) {
		s := Start(t)
		cl := dial(t, s)
		in := request("GET", "/missing")
		pre(t, cl, in)
		p := rebuilt(in, 404, 3)
		p.HeadersOut = statusLine
		var ack int
		require.NoError(t, invoke(t, cl, wire.MethodPostRequest, p, &ack))
		rec := recordOf(t, s)
		assert.Equal(t, []string{QuirkStatusLineInHeadersOut}, rec.Quirks)
		assert.Empty(t, rec.Deviations)
		assert.Equal(t, statusLine, rec.Response.HeadersOut, "shown as sent")
	})
	t.Run("in an UpdateRequest", func(t *testing.T) {
		s := Start(t)
		cl := dial(t, s)
		out := pre(t, cl, sqli())
		var ack int
		require.NoError(t, invoke(t, cl, wire.MethodUpdateRequest,
			&wire.RPCMsgIn2{RequestID: out.RequestID, ResponseCode: 406, HeadersOut: statusLine}, &ack))
		rec := recordOf(t, s)
		assert.Equal(t, []string{QuirkStatusLineInHeadersOut}, rec.Quirks)
		assert.Empty(t, rec.Deviations)
	})
	t.Run("not for ordinary headers", func(t *testing.T) {
		s := Start(t)
		cl := dial(t, s)
		in := request("GET", "/missing")
		pre(t, cl, in)
		var ack int
		require.NoError(t, invoke(t, cl, wire.MethodPostRequest, rebuilt(in, 404, 3), &ack))
		assert.Empty(t, recordOf(t, s).Quirks)
	})
}

func TestManyRequestsMatchTheirPostRequests(t *testing.T) {
	s := Start(t, WithClock(NewManualClock(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))))
	cl := dial(t, s)
	const n = 50
	for i := range n {
		in := request("GET", fmt.Sprintf("/page/%d", i))
		pre(t, cl, in)
		var ack int
		require.NoError(t, invoke(t, cl, wire.MethodPostRequest, rebuilt(in, 404, 1), &ack))
	}
	recs := s.Requests()
	require.Len(t, recs, n, "no post-only records")
	for _, rec := range recs {
		require.Equal(t, OutcomePosted, rec.Outcome, rec.In.URI)
		assert.Equal(t, MatchUnique, rec.Response.Match, rec.In.URI)
	}
	assert.Empty(t, s.rec.postIndex)
	assert.Empty(t, s.rec.postKeys)
}
