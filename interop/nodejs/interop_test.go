package nodejs

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a2a44e50/ngwaf-helloworld/fakeagent"
	"github.com/seed-a2a44e50/ngwaf-helloworld/fakeagent/detect"
)

const (
	sqli = "1' OR '1'='1"
	xss  = "<script>alert(1)</script>"
)

// send sends a request to app.js and returns the status and body.
func send(t *testing.T, method, u, contentType, body string) (int, string) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, r)
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// recordOf returns the agent's record of the PreRequest for uri (path and
// query exactly as sent), waiting for cond on it, if given.
func recordOf(t *testing.T, s *fakeagent.Server, uri string, cond func(*fakeagent.Record) bool) fakeagent.Record {
	t.Helper()
	var rec fakeagent.Record
	found := func() bool {
		for _, r := range s.Requests() {
			if r.Pre && r.In.URI == uri {
				rec = r
				return cond == nil || cond(&r)
			}
		}
		return false
	}
	if !found() {
		require.Eventually(t, found, 5*time.Second, 10*time.Millisecond, "no record of %s meeting the condition; last: %+v", uri, rec)
	}
	return rec
}

// uris hands out request URIs no other request of the test uses.
type uris struct {
	mu sync.Mutex
	n  int
}

func (u *uris) next(path string, q url.Values) string {
	u.mu.Lock()
	u.n++
	n := u.n
	u.mu.Unlock()
	v := url.Values{}
	for k, vs := range q {
		v[k] = vs
	}
	v.Set("n", fmt.Sprint(n))
	return path + "?" + v.Encode()
}

func TestTheNodeModuleAgainstTheFakeAgent(t *testing.T) {
	for _, tr := range []struct {
		name string
		opts []fakeagent.Option
	}{
		{"over a Unix socket", nil},
		{"over TCP", []fakeagent.Option{fakeagent.WithTCP()}},
	} {
		t.Run(tr.name, func(t *testing.T) {
			agent := fakeagent.Start(t, append([]fakeagent.Option{fakeagent.WithMode(detect.ModeBlocking)}, tr.opts...)...)
			app := startApp(t, agent.Addr())
			var u uris

			t.Run("a benign request is allowed", func(t *testing.T) {
				uri := u.next("/", url.Values{"q": {"hello"}})
				code, body := send(t, "GET", app+uri, "", "")
				assert.Equal(t, 200, code)
				assert.Equal(t, "OK", body)
				rec := recordOf(t, agent, uri, nil)
				assert.EqualValues(t, 200, rec.Out.WAFResponse)
				assert.Contains(t, rec.In.ModuleVersion, "sigsci-module-nodejs 2.2.1")
			})
			for _, a := range []struct{ name, value, signal string }{{"SQL injection", sqli, "SQLI"}, {"XSS", xss, "XSS"}} {
				t.Run(a.name+" is blocked with 406", func(t *testing.T) {
					uri := u.next("/", url.Values{"q": {a.value}})
					code, _ := send(t, "GET", app+uri, "", "")
					assert.Equal(t, 406, code)
					rec := recordOf(t, agent, uri, nil)
					assert.Contains(t, rec.Signals, a.signal)
					recordOf(t, agent, uri, func(r *fakeagent.Record) bool { return r.Outcome == fakeagent.OutcomeUpdated })
				})
			}
			for _, b := range []struct{ name, contentType, benign, attack string }{
				{"a form body", "application/x-www-form-urlencoded", "name=node&comment=hello", url.Values{"q": {sqli}}.Encode()},
				{"a JSON body", "application/json", `{"name":"node"}`, `{"q":"` + sqli + `"}`},
			} {
				t.Run(b.name+" is inspected", func(t *testing.T) {
					uri := u.next("/response", url.Values{"echo": {"1"}})
					code, body := send(t, "POST", app+uri, b.contentType, b.benign)
					assert.Equal(t, 200, code)
					assert.Equal(t, b.benign, body, "the app gets the body whole")
					assert.Equal(t, b.benign, recordOf(t, agent, uri, nil).In.PostBody)

					uri = u.next("/response", url.Values{"echo": {"1"}})
					code, _ = send(t, "POST", app+uri, b.contentType, b.attack)
					assert.Equal(t, 406, code)
					rec := recordOf(t, agent, uri, nil)
					assert.Equal(t, b.attack, rec.In.PostBody)
					assert.Contains(t, rec.Signals, "SQLI")
				})
			}
			for _, an := range []struct {
				name  string
				q     url.Values
				check func(*fakeagent.Response) bool
			}{
				{"a 404", url.Values{"response_code": {"404"}}, func(r *fakeagent.Response) bool { return r.ResponseCode == 404 }},
				{"a slow response", url.Values{"response_time": {"1100"}}, func(r *fakeagent.Response) bool { return r.ResponseMillis >= 1000 }},
			} {
				t.Run(an.name+" gets its PostRequest, matched to its PreRequest", func(t *testing.T) {
					uri := u.next("/response", an.q)
					send(t, "GET", app+uri, "", "")
					rec := recordOf(t, agent, uri, func(r *fakeagent.Record) bool { return r.Outcome == fakeagent.OutcomePosted })
					require.NotNil(t, rec.Response)
					assert.Equal(t, "PostRequest", rec.Response.Via)
					assert.True(t, an.check(rec.Response), "%+v", rec.Response)
				})
			}
			t.Run("200 sequential requests, 0 errors", func(t *testing.T) {
				errs := 0
				for i := range 200 {
					q, want := url.Values{"q": {"hello"}}, 200
					if i%10 == 0 {
						q, want = url.Values{"q": {sqli}}, 406
					}
					code, _ := send(t, "GET", app+u.next("/", q), "", "")
					if code != want {
						errs++
					}
				}
				assert.Zero(t, errs)
			})
			t.Run("50 concurrent requests, 0 errors", func(t *testing.T) {
				var wg sync.WaitGroup
				codes := make([]int, 50)
				errs := make([]error, 50)
				for i := range 50 {
					q := url.Values{"q": {"hello"}}
					if i%10 == 0 {
						q = url.Values{"q": {sqli}}
					}
					uri := u.next("/", q)
					wg.Go(func() {
						resp, err := client.Get(app + uri)
						if err != nil {
							errs[i] = err
							return
						}
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						codes[i] = resp.StatusCode
					})
				}
				wg.Wait()
				for i := range 50 {
					want := 200
					if i%10 == 0 {
						want = 406
					}
					assert.NoError(t, errs[i])
					assert.Equal(t, want, codes[i], "request %d", i)
				}
			})
			t.Run("no protocol deviations", func(t *testing.T) {
				devs := map[fakeagent.Deviation]uint64{}
				for d, n := range agent.Stats().Deviations {
					if n > 0 {
						devs[d] = n
					}
				}
				assert.Empty(t, devs, "deviations counted")
				records := 0
				for _, r := range agent.Requests() {
					if len(r.Deviations) > 0 {
						records++
					}
				}
				assert.Zero(t, records, "records with deviations")
			})
		})
	}
}

func TestTheNodeModuleInNotBlockingMode(t *testing.T) {
	for _, tr := range []struct {
		name string
		opts []fakeagent.Option
	}{
		{"over a Unix socket", nil},
		{"over TCP", []fakeagent.Option{fakeagent.WithTCP()}},
	} {
		t.Run(tr.name+": tags and the RequestID reach the app, and the UpdateRequest is matched", func(t *testing.T) {
			agent := fakeagent.Start(t, append([]fakeagent.Option{fakeagent.WithMode(detect.ModeNotBlocking)}, tr.opts...)...)
			app := startApp(t, agent.Addr())
			uri := "/sigsci-agent?" + url.Values{"q": {sqli}}.Encode()
			code, body := send(t, "GET", app+uri, "", "")
			require.Equal(t, 200, code, "not blocking")
			var reply struct {
				WAFResponse    int
				RequestID      string
				RequestHeaders [][2]string
			}
			require.NoError(t, json.Unmarshal([]byte(body), &reply), body)
			rec := recordOf(t, agent, uri, nil)
			assert.Equal(t, 200, reply.WAFResponse)
			assert.NotEmpty(t, reply.RequestID)
			assert.Equal(t, rec.Out.RequestID, reply.RequestID, "req.SigSciAgent holds the agent's RequestID")
			tags := ""
			for _, h := range reply.RequestHeaders {
				if strings.EqualFold(h[0], "X-Sigsci-Tags") {
					tags = h[1]
				}
			}
			assert.Contains(t, tags, "SQLI")

			rec = recordOf(t, agent, uri, func(r *fakeagent.Record) bool { return r.Outcome == fakeagent.OutcomeUpdated })
			assert.Equal(t, "UpdateRequest", rec.Response.Via)
			assert.EqualValues(t, 200, rec.Response.ResponseCode)
			t.Logf("HeadersOut as Node.js sends it: %q", rec.Response.HeadersOut)
			assert.Empty(t, rec.Deviations)
		})
	}
}
