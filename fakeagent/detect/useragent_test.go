package detect

import (
	"bufio"
	"compress/gzip"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRealUserAgentsHaveNoSignal sends every User-Agent of
// testdata/useragents.txt.gz (browsers, apps, devices, crawlers; see
// testdata/corpus/README.md for where they come from) in an otherwise
// ordinary request: none may carry a signal, except the User-Agents of
// attack tools, which must be USERAGENT and nothing else.
func TestRealUserAgentsHaveNoSignal(t *testing.T) {
	f, err := os.Open("testdata/useragents.txt.gz")
	require.NoError(t, err)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	require.NoError(t, err)
	e := NewEngine(ModeBlocking, nil)
	s := bufio.NewScanner(zr)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	n, flagged := 0, 0
	for s.Scan() {
		ua := s.Text()
		n++
		req := get("/products?id=42")
		req.Headers = append(req.Headers[:0:0], [2]string{"Host", "shop.example.com"}, [2]string{"User-Agent", ua})
		if got := e.Signals(req); len(got) > 0 {
			flagged++
			t.Errorf("User-Agent %q: got %v", ua, got)
		}
	}
	require.NoError(t, s.Err())
	require.Greater(t, n, 50000, "the User-Agent list is shorter than expected")
	t.Logf("%d User-Agents, %d with a signal", n, flagged)
}

// TestDeviceUserAgentTokens are the User-Agent shapes that once read as
// attacks: mobile "Touch;" and locale tokens read as shell, app IDs as
// attack tools, model numbers as SQL.
func TestDeviceUserAgentTokens(t *testing.T) {
	e := NewEngine(ModeBlocking, nil)
	for _, ua := range []string{
		"Mozilla/5.0 (Windows NT 6.2; ARM; Trident/7.0; Touch; rv:11.0; WPDesktop; Lumia 920) like Gecko",
		"Mozilla/5.0 (Linux; U; Android 4.0.4; id-id; GT-S7562 Build/IMM76I) AppleWebKit/534.30 (KHTML, like Gecko) Version/4.0 Mobile Safari/534.30",
		"Mozilla/5.0 (Linux; Android 12; SM-G991B Build/SP1A.210812.016; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/110.0.5481.153 Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/402.0.0.26.108;] com.facebook.katana",
		"BlackBerry8500/5.0.0.593 Profile/MIDP-2.1 Configuration/CLDC-1.1 VendorID/603",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 16_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Instagram 289.0.0.18.109 (iPhone13,2; iOS 16_5; id_ID; id; scale=3.00; 1170x2532; 488400864)",
		"Dalvik/2.1.0 (Linux; U; Android 11; Redmi Note 8 Pro MIUI/V12.5.6.0.RGGMIXM)",
		"Opera/9.80 (J2ME/MIDP; Opera Mini/9.80 (S60; SymbOS; Opera Mobi/23.348; U; en) Presto/2.5.25 Version/10.54",
	} {
		t.Run(ua, func(t *testing.T) {
			req := get("/")
			req.Headers = [][2]string{{"Host", "shop.example.com"}, {"User-Agent", ua}}
			require.Empty(t, e.Signals(req))
		})
	}
}
