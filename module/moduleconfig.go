package module

import (
	"errors"
	"mime"
	"net/http"
	"strings"
	"time"
)

// This file holds the rest of upstream's ModuleConfig API: building a
// configuration without a Module, the read-back getters and the options
// upstream keeps for compatibility. The options and the getters that
// NewModule itself needs are in config.go.

// NewModuleConfig returns a configuration with the defaults and options
// applied, for code that drives an Inspector itself (as upstream's gin
// example does) or clones it into NewModule with FromModuleConfig. Nil
// options are skipped.
func NewModuleConfig(options ...ModuleConfigOption) (*ModuleConfig, error) {
	return newModuleConfig(options)
}

// SetOptions applies more options to c, skipping nil ones and stopping at
// the first that fails. A Module reads its configuration as it serves, so
// change a Module's configuration only before it serves requests.
func (c *ModuleConfig) SetOptions(options ...ModuleConfigOption) error {
	for _, opt := range options {
		if opt == nil {
			continue
		}
		if err := opt(c); err != nil {
			return err
		}
	}
	return nil
}

// FromModuleConfig starts from a copy of mcfg: every setting, including
// the custom inspector and the logger. Options after it change the copy only.
func FromModuleConfig(mcfg *ModuleConfig) ModuleConfigOption {
	return func(c *ModuleConfig) error {
		if mcfg == nil {
			return errors.New("module config to copy is nil")
		}
		*c = *mcfg
		return nil
	}
}

// AltResponseCodes is kept from upstream, where it is deprecated and does
// nothing: every agent answer from 300 to 599 blocks (IsBlockCode). It
// returns a nil option, which NewModule and SetOptions skip.
//
// Deprecated: every code from 300 to 599 is a block code.
func AltResponseCodes(codes ...int) ModuleConfigOption { return nil }

// AltResponseCodes always returns nil; see the AltResponseCodes option.
//
// Deprecated: every code from 300 to 599 is a block code.
func (c *ModuleConfig) AltResponseCodes() []int { return nil }

// IsAllowCode reports whether the agent's WAFResponse lets the request
// through: 200 only.
func (c *ModuleConfig) IsAllowCode(code int) bool { return code == http.StatusOK }

// IsBlockCode reports whether the agent's WAFResponse blocks the request
// (or redirects it, for a 3xx with a redirect URL): 300 to 599. Any other
// code is neither, and the request fails open.
func (c *ModuleConfig) IsBlockCode(code int) bool { return code >= 300 && code <= 599 }

// AllowUnknownContentLength reports whether bodies of unknown length are
// inspected.
func (c *ModuleConfig) AllowUnknownContentLength() bool { return c.allowUnknownContentLength }

// AnomalyDuration is the response time from which a request the agent gave
// no RequestID is reported with PostRequest.
func (c *ModuleConfig) AnomalyDuration() time.Duration { return c.anomalyDuration }

// AnomalySize is the response size from which a request the agent gave no
// RequestID is reported with PostRequest.
func (c *ModuleConfig) AnomalySize() int64 { return c.anomalySize }

// Inspector is the custom inspector (CustomInspector), or nil when the
// module asks the agent itself.
func (c *ModuleConfig) Inspector() Inspector { return c.inspector }

// InspectorInit is the custom inspector's init function, or nil.
func (c *ModuleConfig) InspectorInit() InspectorInitFunc { return c.inspInit }

// InspectorFini is the custom inspector's fini function, or nil.
func (c *ModuleConfig) InspectorFini() InspectorFiniFunc { return c.inspFini }

// RPCAddressString is the agent's address as network:address, e.g.
// "unix:/var/run/sigsci.sock".
func (c *ModuleConfig) RPCAddressString() string { return c.network + ":" + c.address }

// ServerIdentifier is the server version sent to the agent.
func (c *ModuleConfig) ServerIdentifier() string { return c.serverIdentifier }

// ServerFlavor is the server flavor sent to the agent.
func (c *ModuleConfig) ServerFlavor() string { return c.serverFlavor }

// RawHeaderExtractor is the function set with the RawHeaderExtractor
// option, or nil.
func (c *ModuleConfig) RawHeaderExtractor() func(*http.Request) [][2]string {
	return c.headerExtractor
}

// IsExpectedContentType reports whether s, a Content-Type value, names one
// of the media types added with ExpectedContentType (parameters and case
// do not matter).
func (c *ModuleConfig) IsExpectedContentType(s string) bool {
	if len(c.expectedContentTypes) == 0 {
		return false
	}
	mt, _, err := mime.ParseMediaType(s)
	if err != nil {
		mt, _, _ = strings.Cut(s, ";")
		mt = strings.ToLower(strings.TrimSpace(mt))
	}
	return c.expectedContentTypes[mt]
}

// HeaderExtractorFunc returns the request headers to send to the agent in
// place of r.Header. Upstream replaced it with RawHeaderExtractor in 1.12.0;
// it is kept for programs written before.
type HeaderExtractorFunc func(*http.Request) (http.Header, error)

// CustomHeaderExtractor sets a function whose headers are sent to the
// agent instead of r.Header (Host is still sent first); when it fails or
// returns nil, r.Header is sent. It replaces a RawHeaderExtractor, and a
// later RawHeaderExtractor replaces it.
func CustomHeaderExtractor(fn func(r *http.Request) (http.Header, error)) ModuleConfigOption {
	return func(c *ModuleConfig) error {
		c.customHeaderExtractor = fn
		c.headerExtractor = nil
		if fn != nil {
			c.headerExtractor = func(r *http.Request) [][2]string {
				h, err := fn(r)
				if err != nil || h == nil {
					h = r.Header
				}
				return responseHeaders(h) // every value, in a stable order
			}
		}
		return nil
	}
}

// HeaderExtractor is the function set with CustomHeaderExtractor, or nil.
func (c *ModuleConfig) HeaderExtractor() func(r *http.Request) (http.Header, error) {
	return c.customHeaderExtractor
}
