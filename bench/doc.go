// Package bench holds the project's benchmarks (go test -bench in this
// directory) and, in cmd/loadcompare, the load comparison of helloworld
// bare and with the module. It is a module of its own so that its
// dependencies (HdrHistogram, gonum/plot) stay out of the main module.
//
// The benchmarks:
//
//   - BenchmarkPreRequest: one PreRequest round trip through the module's
//     RPCInspector to the fake agent, in-process or as a separate process,
//     over a Unix socket or TCP, pooled or a connection per call,
//     sequential or from 32 goroutines.
//   - BenchmarkServeHTTP: the module's ServeHTTP against the bare handler,
//     for a GET and a POST with a 1 KB JSON body (httptest.ResponseRecorder,
//     no HTTP server: the module's own cost plus the agent round trip).
//   - BenchmarkCodec: msgpack encoding and decoding of a typical RPCMsgIn
//     and RPCMsgOut, alone and through the net/rpc codecs.
//   - BenchmarkDecide: the fake agent's inspection engine on a typical and
//     an attack request.
package bench
