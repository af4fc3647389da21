package loadcompare

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/seed-a2a44e50/ngwaf-helloworld/module"
)

// agentProc is a fake agent process.
type agentProc struct {
	proc             *Process
	network, address string // RPC address as helloworld takes it apart
	admin            string // admin API host:port
	dash             *dashboardClient
}

// port is the agent's TCP port, 0 for a Unix socket.
func (a *agentProc) port() int {
	if a == nil || a.network != "tcp" {
		return 0
	}
	_, p, err := net.SplitHostPort(a.address)
	if err != nil {
		return 0
	}
	var n int
	fmt.Sscan(p, &n)
	return n
}

// appProc is a helloworld process running one variant.
type appProc struct {
	variant Variant
	proc    *Process
	addr    string // host:port it serves HTTP on
	agent   *agentProc
}

type runner struct {
	cfg    Config
	log    io.Writer
	tmp    string
	bins   *Binaries
	agents map[string]*agentProc // by variant: each its own, so that TIME_WAIT sockets are its own
	apps   []*appProc
	order  int

	quietBudget time.Duration // what is left of Config.QuietBudget
}

// Run builds the commands, starts the processes, runs every measurement
// and returns the results; the processes are stopped before it returns.
// Progress goes to log.
func Run(ctx context.Context, cfg Config, log io.Writer) (res *Results, err error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, fmt.Errorf("loadcompare: %w", err)
	}
	began := time.Now()
	res = &Results{Meta: Meta{
		Date:            began.UTC().Format(time.RFC3339),
		CommandLine:     cfg.CommandLine,
		CPUModel:        CPUModel(),
		Cores:           runtime.NumCPU(),
		Kernel:          kernelRelease(),
		RunnerGoVersion: runtime.Version(),
		LoadBefore:      LoadAverage(),
		Client:          cfg.Client,
		Request:         cfg.Request,
		Duration:        cfg.Duration.String(),
		Warmup:          cfg.Warmup.String(),
		Rounds:          cfg.Rounds,
		Conns:           cfg.Conns,
		MaxConns:        cfg.MaxConns,
	}}
	for _, v := range cfg.Variants {
		res.Meta.Variants = append(res.Meta.Variants, v.Name)
	}
	if cfg.AgentTimeout > 0 {
		res.Meta.AgentTimeout = cfg.AgentTimeout.String()
	}
	if cfg.QuietThreshold > 0 {
		res.Meta.QuietGate = fmt.Sprintf("a measurement during which other processes used more than %.0f%% of a core is repeated after waiting for quiet, up to %d times, waiting at most %v in all",
			cfg.QuietThreshold, cfg.QuietRetries, cfg.QuietBudget)
	}

	if cfg.Root == "" {
		if cfg.Root, err = FindRoot(ctx, cfg.GoCmd); err != nil {
			return nil, err
		}
	}
	tmp, err := os.MkdirTemp("", "loadcompare-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	r := &runner{cfg: cfg, log: log, tmp: tmp, agents: map[string]*agentProc{}, quietBudget: cfg.QuietBudget}

	fmt.Fprintf(log, "building helloworld and fakeagent from %s\n", cfg.Root)
	if r.bins, err = Build(ctx, cfg.GoCmd, cfg.Root, filepath.Join(tmp, "bin")); err != nil {
		return nil, err
	}
	res.Meta.GoVersion = r.bins.GoVersion
	if cfg.HelloworldBin != "" {
		r.bins.Helloworld = cfg.HelloworldBin
		res.Meta.Binaries = append(res.Meta.Binaries, "helloworld: "+cfg.HelloworldBin)
	}
	if cfg.FakeAgentBin != "" {
		r.bins.FakeAgent = cfg.FakeAgentBin
		res.Meta.Binaries = append(res.Meta.Binaries, "fakeagent: "+cfg.FakeAgentBin)
	}
	defer func() {
		if stopErr := r.stopAll(); stopErr != nil && err == nil {
			err = stopErr
		}
	}()
	if err := r.startAll(ctx); err != nil {
		return nil, err
	}

	if cfg.QuietThreshold > 0 && cfg.RPCDuration > 0 && !r.waitQuiet(ctx) {
		fmt.Fprintf(log, "the machine did not get quiet; measuring the round trips anyway\n")
	}
	if cfg.RPCDuration > 0 && len(cfg.EchoArgv) > 0 {
		for _, transport := range []string{"unix", "tcp"} {
			if !slices.ContainsFunc(cfg.Variants, func(v Variant) bool { return v.Transport == transport }) {
				continue
			}
			fr, err := r.measureFloor(ctx, transport)
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(log, "%s: mean %.1fµs p50 %.1fµs p99 %.1fµs over %d round trips\n",
				fr.Label, fr.MeanUs, fr.P50Us, fr.P99Us, fr.Calls)
			res.Floor = append(res.Floor, fr)
		}
	}
	if cfg.RPCDuration > 0 {
		for _, v := range cfg.Variants {
			if v.Bare() {
				continue
			}
			rr, err := measureRPC(ctx, r.agents[v.Name], v.ConnPerCall, cfg.RPCDuration)
			if err != nil {
				return nil, err
			}
			if v.Agent != AgentNative {
				rr.Label += ", " + v.Agent + " agent"
				rr.Agent = v.Agent
			}
			fmt.Fprintf(log, "PreRequest round trip, %s: mean %.1fµs p50 %.1fµs p99 %.1fµs over %d calls, %d errors, %d agent connections opened\n",
				rr.Label, rr.MeanUs, rr.P50Us, rr.P99Us, rr.Calls, rr.Errors, rr.AgentConns)
			res.RPC = append(res.RPC, rr)
		}
	}

	for round := 1; round <= cfg.Rounds; round++ {
		for _, conns := range cfg.Conns {
			// Rotate the order each round so that no variant always runs
			// first (or right after the same neighbour).
			n := len(r.apps)
			for i := range n {
				app := r.apps[(i+round-1)%n]
				run, err := r.measure(ctx, app, conns, round)
				if err != nil {
					return nil, err
				}
				res.Runs = append(res.Runs, run)
				fmt.Fprintf(log, "round %d/%d  %-8s conns=%-3d %8.0f req/s  p50 %7.1fµs  p99 %8.1fµs  errors %d  other CPU %3.0f%%  app %5.1fµs/req  agent %5.1fµs/req  TIME_WAIT on the agent port %d->%d%s\n",
					round, cfg.Rounds, run.Variant, conns, run.RPS, run.P50Us, run.P99Us, run.Errors(), run.OtherCPUPercent,
					run.AppCPUUs, run.AgentCPUUs, run.TimeWaitAgentBefore, run.TimeWaitAgentAfter, callsNote(run))
			}
		}
	}
	res.Meta.LoadAfter = LoadAverage()
	res.Meta.Elapsed = time.Since(began).Round(time.Second).String()
	res.Summary = Summarize(res.Runs, res.Meta.Variants, cfg.Conns)
	res.Targets = Targets(res.Summary, res.RPC, res.Floor)
	return res, nil
}

func callsNote(r Measurement) string {
	if r.AgentCalls == nil {
		return ""
	}
	note := fmt.Sprintf("  agent calls %d/%d, agent connections opened %d", *r.AgentCalls, r.Requests, *r.AgentConns)
	if d := r.Dashboard; d != nil {
		note += fmt.Sprintf(", dashboard events %d record + %d stats, %d missed, %d reconnects", d.Records, d.Stats, d.Missed, d.Reconnects)
	}
	return note
}

func kernelRelease() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

const readyTimeout = 60 * time.Second

// startAll starts one fake agent per transport the variants use, then one
// helloworld per variant.
func (r *runner) startAll(ctx context.Context) error {
	logs := filepath.Join(r.tmp, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		return err
	}
	for _, v := range r.cfg.Variants {
		if v.Bare() {
			continue
		}
		a, err := r.startAgent(ctx, v, logs)
		if err != nil {
			return err
		}
		r.agents[v.Name] = a
	}
	for _, v := range r.cfg.Variants {
		app, err := r.startApp(ctx, v, logs)
		if err != nil {
			return err
		}
		r.apps = append(r.apps, app)
	}
	return nil
}

func (r *runner) startAgent(ctx context.Context, v Variant, logs string) (*agentProc, error) {
	name := "fakeagent-" + v.Name
	rpcAddr := "127.0.0.1:0"
	if v.Transport == "unix" {
		rpcAddr = filepath.Join(r.tmp, v.Name+".sock")
	}
	admin, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	bin, args := r.bins.FakeAgent, []string{
		"-rpc-address", rpcAddr,
		"-shared-cache-dir", filepath.Join(r.tmp, "cache-"+v.Name),
		"-agent-mode", "blocking",
		"-admin-address", admin,
	}
	switch v.Agent {
	case AgentZero:
		bin = r.cfg.ZeroAgentArgv[0]
		args = append(append([]string(nil), r.cfg.ZeroAgentArgv[1:]...), "-rpc-address", rpcAddr, "-admin-address", admin)
	case AgentCRS:
		args = append(args, "-fake-engine", "crs")
	}
	p, err := StartProcess(ctx, name, logs, "fakeagent: listening on ", readyTimeout, bin, args...)
	if err != nil {
		return nil, err
	}
	a := &agentProc{proc: p, admin: admin}
	// "fakeagent: listening on unix:/path (mode blocking)" or tcp:host:port
	where, _, _ := strings.Cut(strings.TrimPrefix(p.ReadyLine, "fakeagent: listening on "), " ")
	network, address, ok := strings.Cut(where, ":")
	if !ok || (network != "unix" && network != "tcp") {
		p.Stop()
		return nil, fmt.Errorf("%s: cannot find the RPC address in its ready line %q", name, p.ReadyLine)
	}
	a.network, a.address = network, address
	if _, err := ScrapeAgent(ctx, admin); err != nil {
		p.Stop()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if v.Dashboard {
		if a.dash, err = startDashboardClient(ctx, admin); err != nil {
			p.Stop()
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	fmt.Fprintf(r.log, "started %s (pid %d) on %s:%s, admin %s\n", name, p.Pid(), network, address, admin)
	return a, nil
}

func (r *runner) startApp(ctx context.Context, v Variant, logs string) (*appProc, error) {
	args := []string{"-log-level", "warn"}
	if r.cfg.AgentTimeout > 0 {
		args = append(args, "-timeout", r.cfg.AgentTimeout.String())
	}
	if r.cfg.MaxConns > 0 {
		args = append(args, "-max-conns", fmt.Sprint(r.cfg.MaxConns))
	}
	if v.ConnPerCall {
		args = append(args, "-conn-per-call")
	}
	args = append(args, "127.0.0.1:0")
	var agent *agentProc
	if !v.Bare() {
		agent = r.agents[v.Name]
		args = append(args, agent.network+":"+agent.address)
	}
	p, err := StartProcess(ctx, "helloworld-"+v.Name, logs, "helloworld: listening on http://", readyTimeout, r.bins.Helloworld, args...)
	if err != nil {
		return nil, err
	}
	addr, _, _ := strings.Cut(strings.TrimPrefix(p.ReadyLine, "helloworld: listening on http://"), " ")
	if _, _, err := net.SplitHostPort(addr); err != nil {
		p.Stop()
		return nil, fmt.Errorf("helloworld-%s: cannot find the listen address in its ready line %q", v.Name, p.ReadyLine)
	}
	fmt.Fprintf(r.log, "started helloworld-%s (pid %d) on %s: %s\n", v.Name, p.Pid(), addr, v.Description)
	return &appProc{variant: v, proc: p, addr: addr, agent: agent}, nil
}

func (r *runner) stopAll() error {
	var errs []error
	for _, a := range r.apps {
		if err := a.proc.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w; log: %s", a.proc.Name, err, tail(a.proc.LogPath)))
		}
	}
	for _, a := range r.agents {
		if a.dash != nil {
			if err := a.dash.stop(); err != nil {
				fmt.Fprintf(r.log, "%s: the dashboard client reconnected %d times; the last time after: %v\n",
					a.proc.Name, a.dash.counts().Reconnects, err)
			}
		}
		if err := a.proc.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w; log: %s", a.proc.Name, err, tail(a.proc.LogPath)))
		}
	}
	r.apps, r.agents = nil, nil
	return errors.Join(errs...)
}

// freeLoopbackAddr returns a loopback address with a port that was free
// a moment ago.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free port: %w", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr, nil
}

// snapshot is what is read before and after a measurement.
type snapshot struct {
	appCPU, agentCPU, selfCPU time.Duration
	timeWait                  map[Socket]bool
	agent                     AgentCounters
	machine                   MachineCPU
	at                        time.Time
}

func (r *runner) snapshot(ctx context.Context, app *appProc) (snapshot, error) {
	var s snapshot
	var err error
	s.at = time.Now()
	if s.machine, err = ReadMachineCPU(); err != nil {
		return s, err
	}
	if s.appCPU, err = CPUTime(app.proc.Pid()); err != nil {
		return s, err
	}
	if s.selfCPU, err = CPUTime(os.Getpid()); err != nil {
		return s, err
	}
	if app.agent != nil {
		if s.agentCPU, err = CPUTime(app.agent.proc.Pid()); err != nil {
			return s, err
		}
		if s.agent, err = ScrapeAgent(ctx, app.agent.admin); err != nil {
			return s, err
		}
	}
	s.timeWait, err = TimeWaitSockets()
	return s, err
}

// measure runs measureOnce and, with the quiet gate on, repeats it while
// the rest of the machine used more than QuietThreshold of a core
// meanwhile, after waiting for the machine to calm down, within the
// retries and the run's waiting budget. A measurement that stays noisy is
// kept and flagged.
func (r *runner) measure(ctx context.Context, app *appProc, conns, round int) (Measurement, error) {
	for retry := 0; ; retry++ {
		run, err := r.measureOnce(ctx, app, conns, round)
		if err != nil {
			return run, err
		}
		run.Retries = retry
		run.Noisy = r.cfg.QuietThreshold > 0 && run.OtherCPUPercent > r.cfg.QuietThreshold
		if !run.Noisy || retry >= r.cfg.QuietRetries || r.quietBudget <= 0 {
			return run, nil
		}
		fmt.Fprintf(r.log, "round %d/%d  %-8s conns=%-3d other processes used %.0f%% of a core: waiting for quiet and measuring again\n",
			round, r.cfg.Rounds, app.variant.Name, conns, run.OtherCPUPercent)
		r.waitQuiet(ctx)
	}
}

// waitQuiet waits, within what is left of the run's budget, until the
// machine (where the comparison's own processes are idle) is busy less
// than QuietThreshold of a core over one second.
func (r *runner) waitQuiet(ctx context.Context) bool {
	for r.quietBudget > 0 && ctx.Err() == nil {
		start := time.Now()
		before, err := ReadMachineCPU()
		if err != nil {
			return false
		}
		pause(ctx, time.Second)
		after, err := ReadMachineCPU()
		if err != nil {
			return false
		}
		wall := time.Since(start)
		r.quietBudget -= wall
		if 100*(after.Busy-before.Busy).Seconds()/wall.Seconds() <= r.cfg.QuietThreshold {
			return true
		}
	}
	return false
}

// measureOnce runs a warm-up, then one measured load run against app.
func (r *runner) measureOnce(ctx context.Context, app *appProc, conns, round int) (Measurement, error) {
	lc := LoadConfig{
		Addr:        app.addr,
		Request:     loadRequest(r.cfg.Request),
		Conns:       conns,
		MaxRequests: r.cfg.MaxRequests,
		Client:      r.cfg.Client,
	}
	if r.cfg.Warmup > 0 {
		warm := lc
		warm.Duration = r.cfg.Warmup
		if _, err := RunLoad(ctx, warm); err != nil {
			return Measurement{}, err
		}
	}
	before, err := r.snapshot(ctx, app)
	if err != nil {
		return Measurement{}, err
	}
	var dashBefore DashboardCounts
	if app.agent != nil && app.agent.dash != nil {
		dashBefore = app.agent.dash.counts()
	}
	lc.Duration = r.cfg.Duration
	lr, err := RunLoad(ctx, lc)
	if err != nil {
		return Measurement{}, err
	}
	after, err := r.snapshot(ctx, app)
	if err != nil {
		return Measurement{}, err
	}
	for _, p := range []*Process{app.proc, agentProcOf(app)} {
		if p != nil && p.Exited() {
			return Measurement{}, fmt.Errorf("%s exited during the measurement; log: %s", p.Name, tail(p.LogPath))
		}
	}
	r.order++
	run := Measurement{
		Round: round, Order: r.order, Variant: app.variant.Name, Conns: conns,
		Requests: lr.Requests, OK: lr.OK, Non200: lr.Non200, TransportErrors: lr.TransportErrors,
		FirstError:     lr.FirstError,
		ElapsedSeconds: lr.Elapsed.Seconds(),
		RPS:            lr.Throughput(),
		AppCPUUs:       perRequestMicros(after.appCPU-before.appCPU, lr.Requests),
		AgentCPUUs:     perRequestMicros(after.agentCPU-before.agentCPU, lr.Requests),
		LoadgenCPUUs:   perRequestMicros(after.selfCPU-before.selfCPU, lr.Requests),
	}
	run.MeanUs, run.P50Us, run.P90Us, run.P99Us, run.MaxUs = percentiles(lr.Latency)
	// What the rest of the machine used meanwhile: a busy neighbour shows
	// here even when its processes are not visible from this one.
	ours := (after.appCPU - before.appCPU) + (after.agentCPU - before.agentCPU) + (after.selfCPU - before.selfCPU)
	if wall := after.at.Sub(before.at); wall > 0 {
		other := after.machine.Busy - before.machine.Busy - ours
		run.OtherCPUPercent = max(0, 100*other.Seconds()/wall.Seconds())
		run.IRQCPUPercent = 100 * (after.machine.IRQ - before.machine.IRQ).Seconds() / wall.Seconds()
	}
	run.TimeWaitNew, run.TimeWaitAgent = NewSockets(before.timeWait, after.timeWait, app.agent.port())
	if port := app.agent.port(); port > 0 {
		run.TimeWaitAgentBefore = CountOnPort(before.timeWait, port)
		run.TimeWaitAgentAfter = CountOnPort(after.timeWait, port)
	}
	if app.agent != nil {
		calls := after.agent.PreRequests - before.agent.PreRequests
		conns := after.agent.Connections - before.agent.Connections
		run.AgentCalls, run.AgentConns = &calls, &conns
		if d := app.agent.dash; d != nil {
			now := d.counts()
			run.Dashboard = &DashboardCounts{
				Records:    now.Records - dashBefore.Records,
				Missed:     now.Missed - dashBefore.Missed,
				Stats:      now.Stats - dashBefore.Stats,
				Reconnects: now.Reconnects - dashBefore.Reconnects,
			}
		}
	}
	return run, nil
}

func agentProcOf(app *appProc) *Process {
	if app.agent == nil {
		return nil
	}
	return app.agent.proc
}

// measureRPC times sequential PreRequest calls from this process to the
// agent process through the module's RPCInspector, for d.
func measureRPC(ctx context.Context, a *agentProc, perCall bool, d time.Duration) (RPCResult, error) {
	ri := module.NewRPCInspector(module.RPCInspectorConfig{
		Network: a.network, Address: a.address, Timeout: time.Second, ConnPerCall: perCall,
		BreakerThreshold: 0,
	})
	defer ri.Close()
	in := rpcRequest()
	res := RPCResult{Label: rpcLabel(a.network, perCall), Transport: a.network, ConnPerCall: perCall}
	call := func() error {
		var out module.RPCMsgOut
		if err := ri.PreRequest(in, &out); err != nil {
			return err
		}
		if out.WAFResponse != 200 {
			return fmt.Errorf("PreRequest answered %d, want 200", out.WAFResponse)
		}
		return nil
	}
	for range 200 { // warm up: connect, grow buffers
		if err := call(); err != nil {
			return res, fmt.Errorf("PreRequest to %s:%s: %w", a.network, a.address, err)
		}
	}
	before, err := TimeWaitSockets()
	if err != nil {
		return res, err
	}
	countersBefore, err := ScrapeAgent(ctx, a.admin)
	if err != nil {
		return res, err
	}
	h := newLatencyHistogram()
	const maxCalls = 2_000_000
	deadline := time.Now().Add(d)
	for ctx.Err() == nil && res.Calls < maxCalls && time.Now().Before(deadline) {
		t0 := time.Now()
		err := call()
		el := time.Since(t0)
		res.Calls++
		if err != nil {
			res.Errors++
			if res.FirstError == "" {
				res.FirstError = err.Error()
			}
			continue
		}
		recordLatency(h, el)
	}
	after, err := TimeWaitSockets()
	if err != nil {
		return res, err
	}
	countersAfter, err := ScrapeAgent(ctx, a.admin)
	if err != nil {
		return res, err
	}
	res.AgentConns = countersAfter.Connections - countersBefore.Connections
	_, res.TimeWaitAgent = NewSockets(before, after, a.port())
	if port := a.port(); port > 0 {
		res.TimeWaitAgentGrowth = CountOnPort(after, port) - CountOnPort(before, port)
	}
	res.MeanUs, res.P50Us, res.P90Us, res.P99Us, res.MaxUs = percentiles(h)
	return res, ctx.Err()
}

// measureFloor times a raw ping-pong between this process and an echo
// server process: the least a PreRequest round trip can cost here.
func (r *runner) measureFloor(ctx context.Context, transport string) (RPCResult, error) {
	res := RPCResult{Label: pick(transport == "unix", "uds", "tcp") + " raw ping-pong", Transport: transport}
	p, addr, err := EchoProcess(ctx, r.cfg.EchoArgv, transport, r.tmp)
	if err != nil {
		return res, err
	}
	defer p.Stop()
	conn, err := net.Dial(transport, addr)
	if err != nil {
		return res, fmt.Errorf("dialing the echo server: %w", err)
	}
	defer conn.Close()
	if _, err := PingPong(conn, 50*time.Millisecond, 200); err != nil { // warm up
		return res, fmt.Errorf("ping-pong: %w", err)
	}
	h, err := PingPong(conn, r.cfg.RPCDuration, 2_000_000)
	if err != nil {
		return res, fmt.Errorf("ping-pong: %w", err)
	}
	res.Calls = uint64(h.TotalCount())
	res.MeanUs, res.P50Us, res.P90Us, res.P99Us, res.MaxUs = percentiles(h)
	return res, nil
}

func pick(cond bool, yes, no string) string {
	if cond {
		return yes
	}
	return no
}

// rpcRequest is a PreRequest like the one the module sends for the load
// generator's GET.
func rpcRequest() *module.RPCMsgIn {
	now := time.Now()
	return &module.RPCMsgIn{
		ModuleVersion: module.DefaultModuleIdentifier,
		ServerVersion: runtime.Version(),
		ServerFlavor:  "loadcompare",
		ServerName:    "127.0.0.1:8000",
		Timestamp:     now.Unix(),
		NowMillis:     now.UnixMilli(),
		RemoteAddr:    "127.0.0.1",
		Method:        "GET",
		Scheme:        "http",
		URI:           "/",
		Protocol:      "HTTP/1.1",
		ResponseCode:  -1,
		ResponseSize:  -1,
		HeadersIn: [][2]string{
			{"Host", "127.0.0.1:8000"},
			{"User-Agent", "loadcompare/1 (ngwaf-helloworld bench)"},
			{"Accept", "text/plain, */*"},
			{"Accept-Encoding", "identity"},
		},
	}
}
