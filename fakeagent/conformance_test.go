package fakeagent

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a2a44e50/ngwaf-helloworld/module/wire"
)

func TestCheckRequest(t *testing.T) {
	cases := []struct {
		name   string
		change func(*wire.RPCMsgIn)
		post   bool
		want   []Deviation
	}{
		{"a well-formed request has none", func(*wire.RPCMsgIn) {}, false, nil},
		{"an IPv6 RemoteAddr is fine", func(in *wire.RPCMsgIn) { in.RemoteAddr = "2001:db8::1" }, false, nil},
		{"RemoteAddr with a port", func(in *wire.RPCMsgIn) { in.RemoteAddr = "192.0.2.10:51234" }, false, []Deviation{DeviationRemoteAddrWithPort}},
		{"IPv6 RemoteAddr with a port", func(in *wire.RPCMsgIn) { in.RemoteAddr = "[2001:db8::1]:443" }, false, []Deviation{DeviationRemoteAddrWithPort}},
		{"no RemoteAddr", func(in *wire.RPCMsgIn) { in.RemoteAddr = "" }, false, []Deviation{DeviationMissingRemoteAddr}},
		{"no Host header", func(in *wire.RPCMsgIn) { in.HeadersIn = in.HeadersIn[1:] }, false, []Deviation{DeviationMissingHost}},
		{"a lower-case host header is fine", func(in *wire.RPCMsgIn) { in.HeadersIn[0][0] = "host" }, false, nil},
		{"no Timestamp", func(in *wire.RPCMsgIn) { in.Timestamp = 0 }, false, []Deviation{DeviationInvalidTimestamp}},
		{"negative NowMillis", func(in *wire.RPCMsgIn) { in.NowMillis = -1 }, false, []Deviation{DeviationInvalidTimestamp}},
		{"no Method", func(in *wire.RPCMsgIn) { in.Method = "" }, false, []Deviation{DeviationMissingMethod}},
		{"no URI", func(in *wire.RPCMsgIn) { in.URI = "" }, false, []Deviation{DeviationMissingURI}},
		{"a PostRequest without a response code", func(in *wire.RPCMsgIn) { in.ResponseCode = 0 }, true, []Deviation{DeviationInvalidResponseCode}},
		{"a PostRequest with a response code", func(in *wire.RPCMsgIn) { in.ResponseCode = 500 }, true, nil},
		{"an empty message", func(in *wire.RPCMsgIn) { *in = wire.RPCMsgIn{} }, false, []Deviation{
			DeviationMissingRemoteAddr, DeviationMissingHost, DeviationInvalidTimestamp, DeviationMissingMethod, DeviationMissingURI,
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := benign()
			tc.change(in)
			assert.Equal(t, tc.want, checkRequest(in, tc.post))
		})
	}
}

func TestModuleInitIsOptional(t *testing.T) {
	t.Run("a module that never sends ModuleInit makes no deviation and is described", func(t *testing.T) {
		s := Start(t)
		in := benign()
		in.ModuleVersion, in.ServerVersion, in.ServerFlavor = "sigsci-module-nodejs 2.2.1", "v20.11.1", ""
		pre(t, dial(t, s), in)
		pre(t, dial(t, s), in)
		assert.Empty(t, s.Requests()[0].Deviations)
		assert.Empty(t, s.Stats().Deviations)
		mods := s.Stats().Modules
		require.Len(t, mods, 1)
		assert.Equal(t, "sigsci-module-nodejs 2.2.1", mods[0].ModuleVersion)
		assert.Zero(t, mods[0].Inits)
		assert.False(t, mods[0].SentModuleInit)
		assert.EqualValues(t, 2, mods[0].PreRequests)
	})
	t.Run("a module that sends ModuleInit on an earlier connection, as upstream Go does", func(t *testing.T) {
		s := Start(t)
		init := dial(t, s)
		moduleInit(t, init)
		require.NoError(t, init.Close())
		pre(t, dial(t, s), benign())
		assert.Empty(t, recordOf(t, s).Deviations)
		mods := s.Stats().Modules
		require.Len(t, mods, 1)
		assert.Equal(t, testModuleVersion, mods[0].ModuleVersion)
		assert.EqualValues(t, 1, mods[0].Inits)
		assert.True(t, mods[0].SentModuleInit)
		assert.EqualValues(t, 1, mods[0].PreRequests)
	})
	t.Run("two modules are described apart", func(t *testing.T) {
		s := Start(t)
		moduleInit(t, dial(t, s))
		in := benign()
		in.ModuleVersion = "sigsci-module-python 1.4.1"
		pre(t, dial(t, s), in)
		pre(t, dial(t, s), benign())
		mods := s.Stats().Modules
		require.Len(t, mods, 2)
		assert.Equal(t, testModuleVersion, mods[0].ModuleVersion)
		assert.EqualValues(t, 1, mods[0].Inits)
		assert.EqualValues(t, 1, mods[0].PreRequests)
		assert.Equal(t, "sigsci-module-python 1.4.1", mods[1].ModuleVersion)
		assert.Zero(t, mods[1].Inits)
		assert.EqualValues(t, 1, mods[1].PreRequests)
		assert.Empty(t, s.Stats().Deviations)
	})
}

func TestDeviationsAreRecordedAndCounted(t *testing.T) {
	s := Start(t)
	cl := dial(t, s)
	moduleInit(t, cl)
	in := benign()
	in.RemoteAddr = "192.0.2.10:51234"
	in.HeadersIn = in.HeadersIn[1:]
	pre(t, cl, in)
	var ack int
	require.NoError(t, invoke(t, cl, wire.MethodPostRequest, post(in, 0), &ack))

	rec := recordOf(t, s)
	assert.Equal(t, OutcomePosted, rec.Outcome)
	assert.ElementsMatch(t, []Deviation{DeviationRemoteAddrWithPort, DeviationMissingHost, DeviationInvalidResponseCode}, rec.Deviations,
		"each deviation once per request, though the PostRequest repeats them")
	st := s.Stats()
	assert.EqualValues(t, 1, st.Deviations[DeviationRemoteAddrWithPort])
	assert.EqualValues(t, 1, st.Deviations[DeviationMissingHost])
	assert.EqualValues(t, 1, st.Deviations[DeviationInvalidResponseCode])
	assert.Equal(t, "invalid_response_code=1 missing_host=1 remote_addr_with_port=1", st.deviationSummary())
}
