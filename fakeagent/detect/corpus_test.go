package detect

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const browserUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"

// corpusCase is one line of testdata/corpus/*.txt.
type corpusCase struct {
	line     int
	signal   string // attacks only
	location string
	payload  string
}

func (c corpusCase) String() string {
	return fmt.Sprintf("line %d: %s %q", c.line, c.location, c.payload)
}

func readCorpus(t testing.TB, path string, withSignal bool) []corpusCase {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var cases []corpusCase
	s := bufio.NewScanner(f)
	for n := 1; s.Scan(); n++ {
		line := s.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		want := 2
		if withSignal {
			want = 3
		}
		fields := strings.SplitN(line, "\t", want)
		require.Len(t, fields, want, "%s:%d: want %d tab-separated fields", path, n, want)
		c := corpusCase{line: n}
		if withSignal {
			c.signal, fields = fields[0], fields[1:]
		}
		c.location, c.payload = fields[0], fields[1]
		if u, err := strconv.Unquote(c.payload); err == nil && strings.HasPrefix(c.payload, `"`) {
			c.payload = u
		}
		cases = append(cases, c)
	}
	require.NoError(t, s.Err())
	return cases
}

// corpusRequest builds the request a corpus case describes (see
// testdata/corpus/README.md).
func corpusRequest(t testing.TB, c corpusCase) *Request {
	t.Helper()
	req := &Request{
		Method:     "GET",
		URI:        "/search?q=shoes",
		RemoteAddr: "198.51.100.7",
		Headers: [][2]string{
			{"Host", "shop.example.com"},
			{"User-Agent", browserUA},
			{"Accept", "text/html,application/xhtml+xml"},
			{"Accept-Language", "en-US,en;q=0.9"},
		},
	}
	setHeader := func(name, value string) {
		for i, h := range req.Headers {
			if strings.EqualFold(h[0], name) {
				req.Headers[i][1] = value
				return
			}
		}
		req.Headers = append(req.Headers, [2]string{name, value})
	}
	post := func(contentType, body string) {
		req.Method, req.URI, req.Body = "POST", "/comments", body
		if contentType != "" {
			setHeader("Content-Type", contentType)
		}
	}
	multipartBody := func(file bool) {
		var b bytes.Buffer
		w := multipart.NewWriter(&b)
		var err error
		if file {
			fw, ferr := w.CreateFormFile("upload", "upload.txt")
			require.NoError(t, ferr)
			_, err = fw.Write([]byte(c.payload))
		} else {
			err = w.WriteField("comment", c.payload)
		}
		require.NoError(t, err)
		require.NoError(t, w.WriteField("submit", "Send"))
		require.NoError(t, w.Close())
		post(w.FormDataContentType(), b.String())
	}
	switch loc := c.location; {
	case loc == "query":
		req.URI = "/search?q=" + url.QueryEscape(c.payload) + "&page=1"
	case loc == "uri":
		req.URI = c.payload
	case loc == "noua":
		req.URI = c.payload
		req.Headers = slices.DeleteFunc(req.Headers, func(h [2]string) bool { return h[0] == "User-Agent" })
	case loc == "ua":
		setHeader("User-Agent", c.payload)
	case loc == "cookie":
		setHeader("Cookie", c.payload)
	case strings.HasPrefix(loc, "header:"):
		setHeader(strings.TrimPrefix(loc, "header:"), c.payload)
	case loc == "json":
		b, err := json.Marshal(map[string]string{"comment": c.payload})
		require.NoError(t, err)
		post("application/json", string(b))
	case loc == "jsonbody":
		post("application/json", c.payload)
	case loc == "form":
		post("application/x-www-form-urlencoded", "comment="+url.QueryEscape(c.payload)+"&submit=Send")
	case loc == "formbody":
		post("application/x-www-form-urlencoded", c.payload)
	case loc == "multipart":
		multipartBody(false)
	case loc == "multipart-file":
		multipartBody(true)
	case strings.HasPrefix(loc, "body:"):
		post(strings.TrimPrefix(loc, "body:"), c.payload)
	default:
		t.Fatalf("%v: unknown location", c)
	}
	return req
}

// TestCorpus measures detection on the attack corpus and false positives
// on the benign corpus, and reports both.
func TestCorpus(t *testing.T) {
	e := NewEngine(ModeBlocking, nil)

	attacks := readCorpus(t, "testdata/corpus/attacks.txt", true)
	perSignal := map[string][2]int{} // signal -> detected, total
	detected := 0
	for _, c := range attacks {
		got := e.Signals(corpusRequest(t, c))
		n := perSignal[c.signal]
		n[1]++
		if slices.Contains(got, c.signal) {
			detected++
			n[0]++
		} else {
			t.Logf("MISSED %s %v: got %v", c.signal, c, got)
		}
		perSignal[c.signal] = n
	}
	for _, sig := range slices.Sorted(mapsKeys(perSignal)) {
		n := perSignal[sig]
		t.Logf("  %-16s %3d/%-3d detected", sig, n[0], n[1])
	}

	benign := readCorpus(t, "testdata/corpus/benign.txt", false)
	falsePositives := 0
	for _, c := range benign {
		if got := e.Signals(corpusRequest(t, c)); len(got) > 0 {
			falsePositives++
			t.Logf("FALSE POSITIVE %v: got %v", c, got)
		}
	}

	detection := 100 * float64(detected) / float64(len(attacks))
	fpRate := 100 * float64(falsePositives) / float64(len(benign))
	t.Logf("SUMMARY: detection %d/%d (%.1f%%), false positives %d/%d (%.1f%%)",
		detected, len(attacks), detection, falsePositives, len(benign), fpRate)

	assert.GreaterOrEqual(t, len(attacks), 100, "attack corpus size")
	assert.GreaterOrEqual(t, len(benign), 100, "benign corpus size")
	assert.GreaterOrEqual(t, detection, 95.0, "detection rate on the attack corpus")
	assert.Zero(t, falsePositives, "false positives on the benign corpus")
	for sig := range perSignal {
		assert.Positive(t, perSignal[sig][0], "no %s case detected", sig)
	}
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
