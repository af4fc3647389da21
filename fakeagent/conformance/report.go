package conformance

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Status is a check's result.
type Status string

// The statuses of a check.
const (
	// StatusPass: the module did what the protocol asks.
	StatusPass Status = "pass"
	// StatusFail: it did not; Result.Detail says what it did.
	StatusFail Status = "fail"
	// StatusInfo: an informational check's observation, where the
	// protocol leaves the module a choice.
	StatusInfo Status = "info"
)

// Result is one check's outcome.
type Result struct {
	ID       string `json:"id"`       // stable, e.g. "block-406"
	Title    string `json:"title"`    // what is checked, in a sentence
	Required bool   `json:"required"` // a failed required check fails the run
	Status   Status `json:"status"`
	Detail   string `json:"detail"` // what the module did
}

// Report is the outcome of a run.
type Report struct {
	App           string        `json:"app"`
	Agent         string        `json:"agent"`          // network:address the fake agent listened on
	ModuleVersion string        `json:"module_version"` // as the module sends it in PreRequest
	ServerVersion string        `json:"server_version"`
	Started       time.Time     `json:"started"`
	Duration      time.Duration `json:"duration_ns"`
	Checks        []Result      `json:"checks"`
	// Passed is true when every required check passed.
	Passed bool `json:"passed"`
}

// Check returns the result of the check with id, and whether there is one.
func (r *Report) Check(id string) (Result, bool) {
	for _, c := range r.Checks {
		if c.ID == id {
			return c, true
		}
	}
	return Result{}, false
}

// Failed returns the IDs of the required checks that did not pass.
func (r *Report) Failed() []string {
	var ids []string
	for _, c := range r.Checks {
		if c.Required && c.Status != StatusPass {
			ids = append(ids, c.ID)
		}
	}
	return ids
}

// WriteText writes the report as a table, one check a line, and a summary.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "conformance of %s (module %q, server %q), fake agent on %s\n\n",
		r.App, r.ModuleVersion, r.ServerVersion, r.Agent)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tLEVEL\tRESULT\tDETAIL")
	required, passed, info := 0, 0, 0
	for _, c := range r.Checks {
		level := "info"
		if c.Required {
			level = "required"
			required++
			if c.Status == StatusPass {
				passed++
			}
		} else {
			info++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.ID, level, strings.ToUpper(string(c.Status)), oneLine(c.Detail))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	verdict := "PASS"
	if !r.Passed {
		verdict = "FAIL: " + strings.Join(r.Failed(), ", ")
	}
	fmt.Fprintf(&b, "\n%d of %d required checks passed, %d informational, in %v: %s\n",
		passed, required, info, r.Duration.Round(time.Millisecond), verdict)
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the report as one indented JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
