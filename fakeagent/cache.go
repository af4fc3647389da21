package fakeagent

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/seed-a2a44e50/ngwaf-helloworld/fakeagent/detect"
)

// Files written to the shared cache directory.
const (
	rulesFileName = "rules.json"
	stateFileName = "state.json"
)

// rulesSnapshot is what rules.json holds: the rules in effect and the
// settings that shape decisions, with a fingerprint of both so that a
// deployer can tell whether two agents decide alike. No credentials.
type rulesSnapshot struct {
	Written     time.Time      `json:"written"`
	Version     string         `json:"version"`
	Fingerprint string         `json:"fingerprint"`
	Settings    configSettings `json:"settings"`
	Rules       []detect.Rule  `json:"rules"`
}

// configSettings are the configuration fields that change what the agent
// answers.
type configSettings struct {
	Mode         detect.Mode   `json:"mode"`
	RulesFile    string        `json:"rules_file,omitempty"`
	Decider      bool          `json:"decider,omitempty"`
	UpdateExpiry time.Duration `json:"update_expiry_ns"`
	Faults       Faults        `json:"faults"`
	Engine       string        `json:"engine"`
	CRSParanoia  int           `json:"crs_paranoia,omitempty"`
	CRSThreshold int           `json:"crs_threshold,omitempty"`

	Decision             DecisionMode  `json:"decision"`
	Thresholds           []Threshold   `json:"thresholds,omitempty"`
	FlagDuration         time.Duration `json:"flag_duration_ns,omitempty"`
	RateLimits           []RateLimit   `json:"rate_limits,omitempty"`
	ClientIPHeader       string        `json:"client_ip_header"`
	CustomRequestHeaders [][2]string   `json:"custom_request_headers,omitempty"`
}

// stateSnapshot is what state.json holds, written at shutdown.
type stateSnapshot struct {
	Written     time.Time `json:"written"`
	Version     string    `json:"version"`
	Fingerprint string    `json:"fingerprint"`
	Started     time.Time `json:"started"`
	Stats       Stats     `json:"stats"`
}

// fingerprint hashes the settings and rules.
func fingerprint(settings configSettings, rules []detect.Rule) (string, error) {
	b, err := json.Marshal(struct {
		Settings configSettings `json:"settings"`
		Rules    []detect.Rule  `json:"rules"`
	}{settings, rules})
	if err != nil {
		return "", fmt.Errorf("fakeagent: fingerprinting the configuration: %w", err)
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// writeJSONAtomic writes v as JSON to dir/name through a temporary file
// in the same directory and a rename, so that readers never see a partial
// file.
func writeJSONAtomic(dir, name string, v any) (err error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("fakeagent: encoding %s: %w", name, err)
	}
	f, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return fmt.Errorf("fakeagent: writing %s: %w", name, err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("fakeagent: writing %s: %w", name, err)
	}
	if err = f.Chmod(0o644); err != nil {
		return fmt.Errorf("fakeagent: writing %s: %w", name, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("fakeagent: writing %s: %w", name, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("fakeagent: writing %s: %w", name, err)
	}
	if err = os.Rename(f.Name(), filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("fakeagent: writing %s: %w", name, err)
	}
	return nil
}
