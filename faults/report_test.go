package faults

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// summary collects one row per case, printed as a Markdown table after
// the run, plus the soak's table.
var summary report

type report struct {
	mu   sync.Mutex
	rows []caseRow
	soak string
}

// caseRow is one case's load, all of it, and what else it showed.
type caseRow struct {
	name  string
	load  tally
	notes string
}

// add logs a case's row and keeps it for the summary.
func (r *report) add(t *testing.T, row caseRow) {
	t.Helper()
	t.Logf("%s: %v", row.name, row.load)
	if row.notes != "" {
		t.Logf("%s: %s", row.name, row.notes)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rows = append(r.rows, row)
}

func (r *report) setSoak(table string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.soak = table
}

// markdown renders the tables, or "" when nothing ran.
func (r *report) markdown() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	if len(r.rows) > 0 {
		b.WriteString("\n## Fault suite\n\n")
		b.WriteString("| case | sent | 200 | 406 | failed | p50 | p99 | max | notes |\n")
		b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|---|\n")
		for _, row := range r.rows {
			l := row.load
			fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %v | %v | %v | %s |\n",
				row.name, l.sent, l.ok, l.blocked, l.failed,
				round(l.p50), round(l.p99), round(l.max), row.notes)
		}
	}
	if r.soak != "" {
		b.WriteString("\n## Soak\n\n" + r.soak)
	}
	return b.String()
}

// mib formats bytes in MiB.
func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// percent formats part of whole.
func percent(part, whole int) string {
	if whole == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(part)/float64(whole))
}
