package wire

import (
	"net/rpc"
	"testing"
)

// fuzzLimit keeps the fuzzers' frames small, so a huge declared length must
// be refused rather than buffered.
const fuzzLimit = 64 << 10

func seedFrames(f *testing.F) {
	f.Add(fixarr(4, fixint(0), fixint(1), fixstr("RPC.PreRequest"), fixarr(1, fixmap(1, fixstr("URI"), fixstr("/")))))
	f.Add(fixarr(4, fixint(1), fixint(1), mnil, fixmap(1, fixstr("WAFResponse"), []byte{0xcc, 200})))
	f.Add(fixarr(4, fixint(1), fixint(1), fixstr("err"), mnil))
	f.Add([]byte{0xdb, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0xdd, 0xff, 0xff, 0xff, 0xff, 0x90})
	f.Add([]byte{0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91})
}

// FuzzServerCodec feeds arbitrary bytes to the agent side: it must never
// panic and must stop at the first error.
func FuzzServerCodec(f *testing.F) {
	seedFrames(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		codec := NewServerCodec(newRW(data), MaxMessageSize(fuzzLimit))
		for range 8 {
			var req rpc.Request
			if err := codec.ReadRequestHeader(&req); err != nil {
				return
			}
			var in RPCMsgIn
			if err := codec.ReadRequestBody(&in); err != nil {
				return
			}
		}
	})
}

// FuzzClientCodec feeds arbitrary bytes to the module side.
func FuzzClientCodec(f *testing.F) {
	seedFrames(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		codec := NewClientCodec(newRW(data), MaxMessageSize(fuzzLimit))
		for i := range 8 {
			var resp rpc.Response
			if err := codec.ReadResponseHeader(&resp); err != nil {
				return
			}
			var err error
			if i%2 == 0 {
				var out RPCMsgOut
				err = codec.ReadResponseBody(&out)
			} else {
				var n int
				err = codec.ReadResponseBody(&n)
			}
			if err != nil {
				return
			}
		}
	})
}
