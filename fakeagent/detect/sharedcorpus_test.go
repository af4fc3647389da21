package detect_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/seed-a2a44e50/ngwaf-helloworld/fakeagent/detect"
	"github.com/seed-a2a44e50/ngwaf-helloworld/fakeagent/detect/crs"
)

// sharedCorpusDir is ../shared/corpus relative to the repository root (CI
// checks the shared folder out beside the clone); this package is three
// levels below the root.
var sharedCorpusDir = filepath.Join("..", "..", "..", "shared", "corpus")

// sharedCase is one line of a ../shared/corpus/*.jsonl file (see its
// README).
type sharedCase struct {
	Signal  string      `json:"signal"`
	Method  string      `json:"method"`
	URI     string      `json:"uri"`
	Headers [][2]string `json:"headers"`
	CType   string      `json:"ctype"`
	Body    string      `json:"body"`
	Src     string      `json:"src"`
}

// request builds the request a module would send for c: Host first, the
// case's headers in order, a browser User-Agent when it has none,
// Content-Type and Content-Length with a body.
func (c sharedCase) request() *detect.Request {
	h := make([][2]string, 0, len(c.Headers)+4)
	h = append(h, [2]string{"Host", "shop.example.com"})
	hasUA := false
	for _, kv := range c.Headers {
		h = append(h, kv)
		hasUA = hasUA || strings.EqualFold(kv[0], "User-Agent")
	}
	if !hasUA {
		h = append(h, [2]string{"User-Agent", corpusBrowserUA})
	}
	if c.CType != "" {
		h = append(h, [2]string{"Content-Type", c.CType})
	}
	if c.Body != "" {
		h = append(h, [2]string{"Content-Length", strconv.Itoa(len(c.Body))})
	}
	return &detect.Request{Method: c.Method, URI: c.URI, RemoteAddr: "203.0.113.7", Headers: h, Body: c.Body}
}

const corpusBrowserUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"

type sharedSet struct {
	name  string // file name without .jsonl
	cases []sharedCase
}

// loadSharedCorpus reads every *.jsonl of the shared corpus; a missing
// corpus fails the test: the detection targets are measured on it.
func loadSharedCorpus(t testing.TB) []sharedSet {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(sharedCorpusDir, "*.jsonl"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no corpus in %s: the shared corpus must be checked out beside the repository", sharedCorpusDir)
	var sets []sharedSet
	for _, path := range files {
		f, err := os.Open(path)
		require.NoError(t, err)
		s := sharedSet{name: strings.TrimSuffix(filepath.Base(path), ".jsonl")}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for n := 1; sc.Scan(); n++ {
			if strings.TrimSpace(sc.Text()) == "" {
				continue
			}
			var c sharedCase
			require.NoError(t, json.Unmarshal(sc.Bytes(), &c), "%s:%d", path, n)
			s.cases = append(s.cases, c)
		}
		require.NoError(t, sc.Err())
		f.Close()
		require.NotEmpty(t, s.cases, "%s is empty", path)
		sets = append(sets, s)
	}
	return sets
}

var crsOnce = sync.OnceValues(func() (*crs.Detector, error) { return crs.New(crs.Config{}) })

// corpusEngine is one engine under measurement with its targets.
type corpusEngine struct {
	name         string
	engine       *detect.Engine
	overall      float64 // minimum right-signal rate over all attacks, percent
	perFamily    float64 // minimum per expected signal, percent
	benignMaxPct float64 // maximum benign requests flagged, per benign set, percent
}

// corpusScore is what one engine got on the shared corpus.
type corpusScore struct {
	hits, total map[string]int // per family
	flagged     map[string]int // per benign set
	benign      map[string]int
	missed      []string
	falsePos    []string
}

func scoreShared(e *detect.Engine, sets []sharedSet) corpusScore {
	sc := corpusScore{hits: map[string]int{}, total: map[string]int{}, flagged: map[string]int{}, benign: map[string]int{}}
	for _, s := range sets {
		for _, c := range s.cases {
			got := e.Signals(c.request())
			if c.Signal == "" {
				sc.benign[s.name]++
				if len(got) > 0 {
					sc.flagged[s.name]++
					sc.falsePos = append(sc.falsePos, fmt.Sprintf("%s %s %s: %v", s.name, c.Src, c.URI, got))
				}
				continue
			}
			sc.total[c.Signal]++
			if slices.Contains(got, c.Signal) {
				sc.hits[c.Signal]++
			} else {
				sc.missed = append(sc.missed, fmt.Sprintf("%s %s: got %v", c.Signal, c.Src, got))
			}
		}
	}
	return sc
}

func pct(n, d int) float64 {
	if d == 0 {
		return 0
	}
	return 100 * float64(n) / float64(d)
}

// TestSharedCorpus runs every case of ../shared/corpus through each engine
// and fails below the detection targets: the right signal on at least
// overall percent of the attacks and perFamily percent of each family, and
// at most benignMaxPct percent of each benign set flagged with any signal.
// Run it with -v to see the table the README shows.
func TestSharedCorpus(t *testing.T) {
	sets := loadSharedCorpus(t)
	crsDet, err := crsOnce()
	require.NoError(t, err)
	engines := []corpusEngine{
		{name: "native", engine: detect.NewEngine(detect.ModeBlocking, nil), overall: 60, perFamily: 45, benignMaxPct: 0.1},
		{name: "crs", engine: detect.NewEngineWith(detect.ModeBlocking, nil, crsDet), overall: 90, perFamily: 0, benignMaxPct: 0.1},
	}
	for _, ce := range engines {
		t.Run("the "+ce.name+" engine meets its targets", func(t *testing.T) {
			sc := scoreShared(ce.engine, sets)
			for _, m := range sc.missed {
				t.Logf("MISSED %s", m)
			}
			for _, m := range sc.falsePos {
				t.Logf("FALSE POSITIVE %s", m)
			}
			hits, total := 0, 0
			for _, fam := range slices.Sorted(mapKeys(sc.total)) {
				h, n := sc.hits[fam], sc.total[fam]
				hits, total = hits+h, total+n
				t.Logf("%s %-14s %4d/%-4d %5.1f%%", ce.name, fam, h, n, pct(h, n))
				if pct(h, n) < ce.perFamily {
					t.Errorf("%s: %s detected in %.1f%% of cases, want at least %.0f%%", ce.name, fam, pct(h, n), ce.perFamily)
				}
			}
			t.Logf("%s %-14s %4d/%-4d %5.1f%%", ce.name, "overall", hits, total, pct(hits, total))
			require.Positive(t, total, "the corpus has no attack")
			if pct(hits, total) < ce.overall {
				t.Errorf("%s: right signal on %.1f%% of attacks, want at least %.0f%%", ce.name, pct(hits, total), ce.overall)
			}
			require.NotEmpty(t, sc.benign, "the corpus has no benign set")
			for _, set := range slices.Sorted(mapKeys(sc.benign)) {
				f, n := sc.flagged[set], sc.benign[set]
				t.Logf("%s benign %s: %d/%d flagged (%.2f%%)", ce.name, set, f, n, pct(f, n))
				if pct(f, n) > ce.benignMaxPct {
					t.Errorf("%s: %.2f%% of %s flagged, want at most %.1f%%", ce.name, pct(f, n), set, ce.benignMaxPct)
				}
			}
		})
	}
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
