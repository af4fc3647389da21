package module

import (
	"runtime"
	"time"
)

// Upstream's defaults, with upstream's names and types. They are variables,
// as upstream's are: NewModule and NewModuleConfig read them when called,
// so a program that changes one at start-up changes the default.
var (
	// DefaultAllowUnknownContentLength is AllowUnknownContentLength's default.
	DefaultAllowUnknownContentLength = false
	// DefaultAnomalyDuration is AnomalyDuration's default.
	DefaultAnomalyDuration = time.Second
	// DefaultAnomalySize is AnomalySize's default.
	DefaultAnomalySize = int64(512 * 1024)
	// DefaultDebug is Debug's default.
	DefaultDebug = false
	// DefaultInspector is the custom inspector's default: none, so the
	// module asks the agent through an RPCInspector.
	DefaultInspector = Inspector(nil)
	// DefaultMaxContentLength is MaxContentLength's default.
	DefaultMaxContentLength = int64(100000)
	// DefaultModuleIdentifier is the ModuleVersion sent to the agent.
	DefaultModuleIdentifier = defaultModuleName + " " + version
	// DefaultRPCAddress is the agent's default address, a Unix socket path.
	DefaultRPCAddress = "/var/run/sigsci.sock"
	// DefaultRPCNetwork is the agent's default network.
	DefaultRPCNetwork = "unix"
	// DefaultTimeout bounds each agent call, connecting included.
	DefaultTimeout = 100 * time.Millisecond
	// DefaultServerIdentifier is the ServerVersion sent to the agent.
	DefaultServerIdentifier = runtime.Version()
	// DefaultServerFlavor is the ServerFlavor sent to the agent.
	DefaultServerFlavor = ""
)

// Version returns this module's version, a semantic version string.
func Version() string { return version }
