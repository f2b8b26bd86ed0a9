package lambdasvc

import (
	"archive/zip"
	mrand "math/rand/v2"

	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/core"
)

// startTimeout bounds how long a new RIE process may take to listen.
const startTimeout = 10 * time.Second

// tailBytes is how much of an invocation's log LogType Tail returns.
const tailBytes = 4096

// runtime owns the warm processes: one pool per (function, version), each
// process serving one invocation at a time.
type runtime struct {
	s *Service

	mu     sync.Mutex
	pools  map[string]*pool // key: function + "\x00" + version
	unpack sync.Mutex       // serialises unpacking code directories
	closed bool
	stop   chan struct{}
}

type pool struct {
	label   string // version@revision: a new label retires the old pool
	sem     chan struct{}
	idle    []*process
	all     map[*process]bool
	retired bool
}

func newRuntime(s *Service) *runtime {
	rt := &runtime{s: s, pools: map[string]*pool{}, stop: make(chan struct{})}
	if s.opts.IdleTimeout > 0 {
		go rt.reaper(min(s.opts.IdleTimeout/2, time.Minute), s.opts.IdleTimeout, rt.stop)
	}
	return rt
}

// outcome is how an invocation ended.
type outcome struct {
	payload []byte
	failed  bool
	tail    string
	ctxErr  error
	// unserved: the environment's RIE died before the event reached the
	// function (its Runtime API could not listen): the sandbox's own
	// failure, which run retries on a fresh environment.
	unserved bool
}

// invocation is one event handed to an execution environment, with what
// the environment's RIE said about it.
type invocation struct {
	id      string
	payload []byte
	trace   string
	crash   bool // fault injection: kill the function once it has the event

	tailMu sync.Mutex
	tail   bytes.Buffer

	// Filled from RIE's output (see rie.go) while the invocation runs.
	mu        sync.Mutex
	call      string        // "response" or "error": the Runtime API call that ended it
	errorType string        // the /error call's Lambda-Runtime-Function-Error-Type
	fatal     string        // RIE's classification of a crash ("Runtime.ExitError")
	exit      string        // how the function's process ended ("exit status 3")
	end       string        // RIE's END line
	report    string        // RIE's REPORT line
	called    chan struct{} // closed at the /response or /error call
	reported  chan struct{} // closed at RIE's REPORT line
	started   chan struct{} // closed when RIE hands the event to the runtime
	startLine bool          // RIE's START line was written
	// provisioned: a provisioned environment serves it, initialized
	// before (its REPORT line has no Init Duration).
	provisioned bool
}

func (inv *invocation) startWritten() bool {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	return inv.startLine
}

func newInvocation(id string, payload []byte, trace string, crash bool) *invocation {
	return &invocation{id: id, payload: payload, trace: trace, crash: crash,
		called: make(chan struct{}), reported: make(chan struct{}), started: make(chan struct{})}
}

func (inv *invocation) appendTail(line string) {
	inv.tailMu.Lock()
	defer inv.tailMu.Unlock()
	inv.tail.WriteString(line)
	inv.tail.WriteByte('\n')
}

func (inv *invocation) tailText() string {
	inv.tailMu.Lock()
	defer inv.tailMu.Unlock()
	b := inv.tail.Bytes()
	if len(b) > tailBytes {
		b = b[len(b)-tailBytes:]
	}
	return string(b)
}

// process is one execution environment: an aws-lambda-rie process that runs
// the function's bootstrap and serves its Runtime API.
type process struct {
	rt      *runtime
	t       target
	group   string
	stream  string
	cmd     *exec.Cmd
	addr    string // RIE's invoke endpoint, host:port
	cur     atomic.Pointer[invocation]
	exited  chan struct{}
	exitMsg string
	killed  atomic.Bool
	// apiFailed: RIE said its Runtime API server could not listen (it then
	// panics and exits), so no function process ever got an event.
	apiFailed atomic.Bool
	lastOut   atomic.Int64 // when RIE's stdout last gave a line (unix ns)
	initErr   []byte       // set when no environment could start
	idleAt    time.Time    // when it last went idle (wall clock)
}

// kill stops the environment: RIE and the function process it started.
func (p *process) kill() {
	p.killed.Store(true)
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	p.killRuntime()
	_ = p.cmd.Process.Kill()
}

// alive reports whether the environment can serve: not killed (its exit
// may not have been seen yet) and not exited.
func (p *process) alive() bool {
	if p.killed.Load() {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// acquire returns an idle warm process of the target's version or starts a
// new one, waiting while the pool is at its limit.
func (rt *runtime) acquire(ctx context.Context, t target) (*pool, *process, error) {
	key := t.name + "\x00" + t.version
	rt.mu.Lock()
	if rt.closed {
		rt.mu.Unlock()
		return nil, nil, core.Errorf("ServiceException", http.StatusInternalServerError, "the sandbox is shutting down")
	}
	p := rt.pools[key]
	if p == nil || p.label != t.poolLabel {
		if p != nil {
			rt.retireLocked(p)
		}
		p = &pool{label: t.poolLabel, sem: make(chan struct{}, rt.s.opts.MaxProcessesPerVersion), all: map[*process]bool{}}
		rt.pools[key] = p
	}
	rt.mu.Unlock()
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	rt.mu.Lock()
	for len(p.idle) > 0 {
		proc := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if proc.alive() {
			rt.mu.Unlock()
			return p, proc, nil
		}
		delete(p.all, proc)
	}
	rt.mu.Unlock()
	proc, err := rt.start(t)
	if err != nil {
		<-p.sem
		return nil, nil, err
	}
	rt.mu.Lock()
	if rt.closed {
		// closeAll ran while this process started: it is not in any list
		// closeAll saw, so stop it here rather than leak it.
		rt.mu.Unlock()
		proc.kill()
		<-proc.exited
		<-p.sem
		return nil, nil, core.Errorf("ServiceException", http.StatusInternalServerError, "the sandbox is shutting down")
	}
	p.all[proc] = true
	rt.mu.Unlock()
	return p, proc, nil
}

// release returns a process to its pool, or stops it when it is dead or its
// pool has been retired.
func (rt *runtime) release(p *pool, proc *process) {
	rt.mu.Lock()
	if proc.alive() && !p.retired && !rt.closed {
		proc.idleAt = time.Now()
		p.idle = append(p.idle, proc)
	} else {
		delete(p.all, proc)
		proc.kill()
	}
	rt.mu.Unlock()
	<-p.sem
}

func (rt *runtime) retireLocked(p *pool) {
	p.retired = true
	for _, proc := range p.idle {
		proc.kill()
		delete(p.all, proc)
	}
	p.idle = nil
}

// reapIdle stops processes idle for longer than maxIdle, as Lambda
// recycles execution environments nobody uses, so old versions do not keep
// processes forever.
func (rt *runtime) reapIdle(maxIdle time.Duration) int {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	n := 0
	now := time.Now()
	for _, p := range rt.pools {
		keep := p.idle[:0]
		for _, proc := range p.idle {
			if now.Sub(proc.idleAt) > maxIdle {
				proc.kill()
				delete(p.all, proc)
				n++
				continue
			}
			keep = append(keep, proc)
		}
		p.idle = keep
	}
	return n
}

func (rt *runtime) reaper(every, maxIdle time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			rt.reapIdle(maxIdle)
		}
	}
}

// killAll kills every process of a function, busy or not (fault injection).
func (rt *runtime) killAll(name string) int {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	n := 0
	for key, p := range rt.pools {
		if fn, _, _ := strings.Cut(key, "\x00"); fn == name {
			for proc := range p.all {
				if proc.alive() {
					proc.kill()
					n++
				}
			}
		}
	}
	return n
}

// retire stops the warm processes of a deleted function (version "") or
// of one deleted version; invocations in flight finish, and their
// processes stop on release.
func (rt *runtime) retire(name, version string) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for key, p := range rt.pools {
		fn, v, _ := strings.Cut(key, "\x00")
		if fn == name && (version == "" || v == version) {
			rt.retireLocked(p)
			delete(rt.pools, key)
		}
	}
}

// shutdown stops every process for good: none starts or returns to a pool
// after it.
func (rt *runtime) shutdown() {
	rt.mu.Lock()
	rt.closed = true
	rt.mu.Unlock()
	rt.closeAll()
}

// closeAll stops every process; the runtime stays usable (Restore uses it
// to start afresh).
func (rt *runtime) closeAll() {
	rt.mu.Lock()
	var procs []*process
	for _, p := range rt.pools {
		p.retired = true
		for proc := range p.all {
			procs = append(procs, proc)
		}
	}
	rt.pools = map[string]*pool{}
	rt.mu.Unlock()
	for _, proc := range procs {
		proc.kill()
	}
	for _, proc := range procs {
		<-proc.exited
	}
}

// codeDir unpacks a deployment package once and returns its directory.
func (rt *runtime) codeDir(key string) (string, error) {
	dir := filepath.Join(rt.s.opts.WorkDir, "code", key)
	rt.unpack.Lock()
	defer rt.unpack.Unlock()
	if _, err := os.Stat(filepath.Join(dir, ".unpacked")); err == nil {
		return dir, nil
	}
	zr, err := zip.OpenReader(filepath.Join(rt.s.opts.CodeDir, key+".zip"))
	if err != nil {
		return "", fmt.Errorf("open code %s: %w", key, err)
	}
	defer zr.Close()
	tmp := dir + ".tmp"
	_ = os.RemoveAll(tmp)
	for _, f := range zr.File {
		dst := filepath.Join(tmp, filepath.FromSlash(f.Name))
		if !strings.HasPrefix(dst, tmp+string(filepath.Separator)) {
			return "", fmt.Errorf("code %s: entry %q leaves the package", key, f.Name)
		}
		if f.FileInfo().IsDir() {
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return "", err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return "", err
		}
		mode := f.Mode().Perm() | 0o444
		if f.Name == "bootstrap" || f.Mode()&0o111 != 0 {
			// Zips made without Unix modes still run: Lambda needs bootstrap executable.
			mode |= 0o755
		}
		if err := extract(f, dst, mode); err != nil {
			return "", fmt.Errorf("code %s: %w", key, err)
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, ".unpacked"), nil, 0o644); err != nil {
		return "", err
	}
	_ = os.RemoveAll(dir)
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", err
	}
	return dir, nil
}

func extract(f *zip.File, dst string, mode os.FileMode) error {
	r, err := f.Open()
	if err != nil {
		return err
	}
	defer r.Close()
	w, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, r); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// start launches an execution environment for the target: AWS's Runtime
// Interface Emulator (aws-lambda-rie) running the package's bootstrap. RIE
// serves the Runtime API, starts, times out and restarts the function, and
// writes the START, END and REPORT lines; the sandbox only routes its
// output to the function's log stream (stdout) and its own diagnostics
// (stderr).
func (rt *runtime) start(t target) (*process, error) {
	dir, err := rt.codeDir(t.codeKey)
	if err != nil {
		return nil, err
	}
	now := rt.s.opts.Clock().UTC()
	p := &process{rt: rt, t: t, group: t.config.LoggingConfig.LogGroup, exited: make(chan struct{})}
	if p.group == "" || p.group == "/aws/lambda/"+t.name {
		p.group = "/aws/lambda/" + t.name
		p.stream = fmt.Sprintf("%s/[%s]%s", now.Format("2006/01/02"), t.version, randomHex(16))
	} else {
		// "The log stream naming format for custom log groups follows this
		// convention: YYYY/MM/DD/<function_name>[<function_version>][<execution_environment_GUID>]"
		// (Configuring CloudWatch log groups,
		// https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-loggroups.html).
		p.stream = fmt.Sprintf("%s/%s[%s]%s", now.Format("2006/01/02"), t.name, t.version, randomHex(16))
	}
	// What RIE starts: the package's bootstrap (a custom runtime), or the
	// Node.js runtime with the handler last, as RIE's own command line
	// takes it (it reads the last argument as the handler).
	var entry []string
	if nodeMajor(t.config.Runtime) != "" {
		node, err := NodeRuntime(t.config.Runtime)
		if err != nil {
			return nil, core.Errorf("ServiceException", http.StatusInternalServerError, "%v", err)
		}
		entry = append(node, t.config.Handler)
	} else {
		bootstrap := filepath.Join(dir, "bootstrap")
		if fi, err := os.Stat(bootstrap); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			// The package has no runnable bootstrap: Lambda reports the same at invoke.
			msg := fmt.Sprintf("Couldn't find valid bootstrap(s): [%s]", filepath.Join("/var/task", "bootstrap"))
			if err != nil {
				msg += ": " + err.Error()
			}
			return p.failedStart(msg), nil
		}
		entry = []string{bootstrap}
	}
	rie, err := riePath()
	if err != nil {
		return nil, core.Errorf("ServiceException", http.StatusInternalServerError, "%v", err)
	}

	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"TZ=UTC",
		"LANG=en_US.UTF-8",
		"LAMBDA_TASK_ROOT=" + dir,
		"LAMBDA_RUNTIME_DIR=" + dir,
		"_HANDLER=" + t.config.Handler,
		"AWS_EXECUTION_ENV=AWS_Lambda_" + t.config.Runtime,
		"AWS_LAMBDA_FUNCTION_NAME=" + t.name,
		"AWS_LAMBDA_FUNCTION_VERSION=" + t.version,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + strconv.Itoa(t.config.MemorySize),
		// RIE's own setting: the invocation timeout it enforces.
		"AWS_LAMBDA_FUNCTION_TIMEOUT=" + strconv.Itoa(t.config.Timeout),
		"AWS_LAMBDA_LOG_GROUP_NAME=" + p.group,
		"AWS_LAMBDA_LOG_STREAM_NAME=" + p.stream,
		"AWS_LAMBDA_INITIALIZATION_TYPE=on-demand",
		"AWS_REGION=" + core.Region,
		"AWS_DEFAULT_REGION=" + core.Region,
		// Lambda hands every function its role's credentials; the sandbox's
		// are dummies it never checks, whose access key id is the function's
		// name so that the calls each function makes are told apart
		// (sandbox.Calls, GetCallerIdentity).
		"AWS_ACCESS_KEY_ID=" + t.name,
		"AWS_SECRET_ACCESS_KEY=sandbox-local-secret",
		"AWS_SESSION_TOKEN=sandbox-local-session",
	}
	if lc := t.config.LoggingConfig; lc.LogFormat == "JSON" {
		env = append(env, "AWS_LAMBDA_LOG_FORMAT=JSON", "AWS_LAMBDA_LOG_LEVEL="+lc.ApplicationLogLevel)
	}
	if t.config.Environment != nil {
		for k, v := range t.config.Environment.Variables {
			if rieOwnsVariable(k) {
				continue
			}
			env = append(env, k+"="+v)
		}
	}
	for attempt := 1; ; attempt++ {
		err := p.launch(rie, dir, entry, env)
		if err == nil {
			return p, nil
		}
		if attempt == 3 {
			return nil, fmt.Errorf("start aws-lambda-rie for %s:%s: %w", t.name, t.version, err)
		}
		// Most likely a port taken between choosing and binding it: again,
		// with fresh ports.
		rt.s.log.Debug("aws-lambda-rie did not start; retrying", "function", t.name, "error", err)
		p.exited = make(chan struct{})
	}
}

// rieOwnsVariable reports the variables that would change what RIE itself
// does rather than what the function sees: AWS_LAMBDA_MAX_CONCURRENCY
// switches it to Lambda Managed Instances mode, the runtime API address is
// its own.
func rieOwnsVariable(k string) bool {
	return k == "AWS_LAMBDA_MAX_CONCURRENCY" || k == "AWS_LAMBDA_RUNTIME_API" || k == "AWS_LAMBDA_FUNCTION_TIMEOUT"
}

// launch starts RIE on two free loopback ports and waits until its invoke
// endpoint accepts connections.
func (p *process) launch(rie, dir string, entry, env []string) error {
	ports, err := pickPorts(2)
	if err != nil {
		return err
	}
	p.addr = ports[0]
	cmd := exec.Command(rie, append([]string{
		"--runtime-interface-emulator-address", ports[0],
		"--runtime-api-address", ports[1],
		// Debug is the level at which RIE logs each Runtime API call: how
		// the sandbox learns that an invocation ended with /error.
		"--log-level", "debug"},
		entry...)...)
	cmd.Dir = dir
	cmd.Env = env
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("run %s: %w", rie, err)
	}
	p.cmd = cmd
	var readers sync.WaitGroup
	readers.Add(2)
	go func() { defer readers.Done(); p.readStdout(stdout) }()
	go func() { defer readers.Done(); p.readStderr(stderr) }()
	exited := p.exited
	go func() {
		readers.Wait()
		if err := cmd.Wait(); err != nil {
			p.exitMsg = err.Error()
		} else {
			p.exitMsg = "exit status 0"
		}
		close(exited)
	}()
	deadline := time.Now().Add(startTimeout)
	for {
		c, err := net.DialTimeout("tcp", p.addr, time.Second)
		if err == nil {
			c.Close()
			// Something listens; it must be this RIE. Ports are chosen per
			// sandbox, so another process's RIE may hold this one, and this
			// RIE then dies on its bind (log.Panic in rie.startHTTPServer)
			// while the dial succeeds — and its events would go to the other
			// process's function.
			if !ownsListener(cmd.Process.Pid, p.addr) {
				p.kill()
				<-exited
				return fmt.Errorf("%s is held by another process, not by aws-lambda-rie (pid %d)", p.addr, cmd.Process.Pid)
			}
			p.rt.s.log.Debug("started execution environment", "function", p.t.name, "version", p.t.version, "pid", cmd.Process.Pid, "rie", p.addr)
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("aws-lambda-rie exited before listening: %s", p.exitMsg)
		case <-time.After(time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.kill()
			<-exited
			return fmt.Errorf("aws-lambda-rie did not listen on %s within %s", p.addr, startTimeout)
		}
	}
}

// ownsListener reports whether process pid holds the socket listening on
// the loopback address addr, from Linux's /proc: the inode of the socket
// listening on addr's port (/proc/net/tcp and tcp6, state 0A) among the
// process's open files. Where /proc cannot be read (another OS) it reports
// true, and the dial that found a listener is all there is.
func ownsListener(pid int, addr string) bool {
	_, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return true
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return true
	}
	inodes := map[string]bool{}
	readable := false
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		readable = true
		for _, line := range strings.Split(string(data), "\n")[1:] {
			// sl local_address rem_address st … inode: the local address is
			// hex IP:port, the port big-endian.
			f := strings.Fields(line)
			if len(f) < 10 || f[3] != "0A" {
				continue
			}
			if _, hexPort, ok := strings.Cut(f[1], ":"); ok && hexPort == fmt.Sprintf("%04X", port) {
				inodes[f[9]] = true
			}
		}
	}
	if !readable {
		return true
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return false // the process is gone
	}
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") && inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] {
			return true
		}
	}
	return false
}

// pickPorts chooses the ports of a new environment (freePorts; tests
// replace it).
var pickPorts = freePorts

// freePorts returns n distinct loopback addresses free at the moment, for
// an RIE process to bind: its invoke endpoint at once, its Runtime API only
// at the first invocation. They are chosen below the kernel's ephemeral
// range (net.ipv4.ip_local_port_range, 32768–60999 by default), where
// neither outgoing connections nor other listeners on port 0 take them
// meanwhile, and never handed out twice within portReuseAfter, so two
// environments starting together cannot be given the same port.
func freePorts(n int) ([]string, error) {
	portsMu.Lock()
	defer portsMu.Unlock()
	now := time.Now()
	var addrs []string
	for tries := 0; len(addrs) < n; tries++ {
		if tries > 1000 {
			return nil, fmt.Errorf("pick a loopback port: none free in %d–%d", portLow, portHigh-1)
		}
		port := portLow + mrand.IntN(portHigh-portLow)
		if at, ok := portsGiven[port]; ok && now.Sub(at) < portReuseAfter {
			continue
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue // taken
		}
		ln.Close()
		portsGiven[port] = now
		addrs = append(addrs, addr)
	}
	for port, at := range portsGiven {
		if now.Sub(at) >= portReuseAfter {
			delete(portsGiven, port)
		}
	}
	return addrs, nil
}

// The ports freePorts chooses from, and how long one it handed out is not
// handed out again.
const (
	portLow        = 20000
	portHigh       = 32768
	portReuseAfter = 5 * time.Minute
)

var (
	portsMu    sync.Mutex
	portsGiven = map[int]time.Time{}
)

// failedStart is an environment that never ran: invoking it reports
// Runtime.InvalidEntrypoint.
func (p *process) failedStart(msg string) *process {
	p.initErr = errorPayload("Runtime.InvalidEntrypoint", "RequestId: - Error: %s", msg)
	p.exitMsg = msg
	close(p.exited)
	return p
}

// write appends one line to the environment's log stream and to the tail of
// the invocation being served.
func (p *process) write(line string) {
	if sink := p.rt.s.opts.Logs; sink != nil {
		sink.Append(p.group, p.stream, p.rt.s.opts.Clock(), line)
	}
	if inv := p.cur.Load(); inv != nil {
		inv.appendTail(line)
	}
}

// run hands the payload to a warm environment of the target and waits for
// the result.
func (rt *runtime) run(ctx context.Context, t target, payload []byte) outcome {
	pl, proc, err := rt.acquire(ctx, t)
	if err != nil {
		var apiErr *core.APIError
		if errors.As(err, &apiErr) {
			return outcome{ctxErr: err}
		}
		if ctx.Err() != nil {
			return outcome{ctxErr: ctx.Err()}
		}
		return outcome{failed: true, payload: errorPayload("Runtime.Unknown", "%v", err)}
	}
	inv := newInvocation(newRevision(), payload,
		"Root=1-"+strconv.FormatInt(time.Now().Unix(), 16)+"-"+randomHex(12)+";Sampled=0",
		rt.s.faults.takeCrash(t.name))
	inv.provisioned = t.provisioned
	done := make(chan outcome, 1)
	go func() {
		// The invocation runs to its end even when the caller gives up, as
		// it does on Lambda. An environment whose RIE could not open its
		// Runtime API never ran the function: the event goes to a fresh
		// one (twice at most), as it would never have failed on Lambda.
		pl, proc := pl, proc
		for attempt := 0; ; attempt++ {
			out := proc.invoke(inv)
			proc.cur.Store(nil)
			rt.release(pl, proc)
			if !out.unserved || attempt == 2 {
				done <- out
				return
			}
			rt.s.log.Debug("execution environment's Runtime API could not listen; the invocation goes to a fresh one", "function", t.name, "version", t.version)
			var err error
			if pl, proc, err = rt.acquire(context.Background(), t); err != nil {
				done <- outcome{failed: true, payload: errorPayload("Runtime.Unknown", "%v", err)}
				return
			}
		}
	}()
	select {
	case out := <-done:
		out.tail = inv.tailText()
		return out
	case <-ctx.Done():
		return outcome{ctxErr: ctx.Err()}
	}
}

// invoke runs one invocation through RIE's invoke endpoint and writes what
// RIE leaves out of the log stream.
func (p *process) invoke(inv *invocation) outcome {
	p.cur.Store(inv)
	started := time.Now()
	if p.initErr != nil {
		p.write(fmt.Sprintf("START RequestId: %s Version: %s", inv.id, p.t.version))
		p.writeEnd(inv, time.Since(started), "error", "Runtime.InvalidEntrypoint")
		return outcome{failed: true, payload: p.initErr}
	}
	if inv.crash {
		p.injectCrash(inv)
	}
	// RIE bounds the init and the invocation by the function's timeout
	// each; the guard beyond that only ends an environment that hangs.
	timeout := time.Duration(p.t.config.Timeout) * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 2*timeout+startTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+p.addr+"/2015-03-31/functions/function/invocations", bytes.NewReader(inv.payload))
	if err != nil {
		return outcome{failed: true, payload: errorPayload("Runtime.Unknown", "%v", err)}
	}
	// RIE takes the request id and trace header of the invocation from these.
	req.Header.Set("X-Amzn-RequestId", inv.id)
	req.Header.Set("X-Amzn-Trace-Id", inv.trace)
	resp, err := rieClient.Do(req)
	if err != nil {
		// The environment died under the invocation (KillProcesses, or RIE
		// itself crashed): Lambda reports the runtime's exit.
		p.kill()
		<-p.exited
		if p.apiFailed.Load() && !inv.startWritten() {
			return outcome{failed: true, unserved: true, payload: errorPayload("Runtime.Unknown", "RequestId: %s Error: the execution environment's Runtime API could not listen", inv.id)}
		}
		exit := inv.exitText()
		if exit == "" {
			exit = p.exitMsg
		}
		if !inv.startWritten() {
			p.write(p.render(fmt.Sprintf("START RequestId: %s Version: %s", inv.id, p.t.version), "", ""))
		}
		p.writeEnd(inv, time.Since(started), "error", "Runtime.ExitError")
		return outcome{failed: true, payload: errorPayload("Runtime.ExitError", "RequestId: %s Error: Runtime exited with error: %s", inv.id, exit)}
	}
	body, readErr := io.ReadAll(io.LimitReader(resp.Body, maxPayloadBytes+1))
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	switch {
	case readErr != nil:
		p.kill()
		p.writeEnd(inv, time.Since(started), "error", "Runtime.ExitError")
		return outcome{failed: true, payload: errorPayload("Runtime.ExitError", "RequestId: %s Error: %v", inv.id, readErr)}

	case resp.StatusCode == http.StatusOK && string(body) == fmt.Sprintf("Task timed out after %d.00 seconds", p.t.config.Timeout):
		// RIE's answer to a timeout (rie.InvokeHandler, ErrInvokeTimeout).
		// It prints END and REPORT without a status; Lambda writes the
		// timeout line and "Status: timeout" (platform.report's status
		// "timeout", Telemetry API schema reference,
		// https://docs.aws.amazon.com/lambda/latest/dg/telemetry-schema-reference.html),
		// and answers Sandbox.Timedout.
		p.awaitReport(inv)
		if p.t.config.LoggingConfig.LogFormat != "JSON" {
			p.write(fmt.Sprintf("%s %s Task timed out after %.2f seconds", p.rt.s.opts.Clock().UTC().Format("2006-01-02T15:04:05.000Z"), inv.id, timeout.Seconds()))
		}
		p.writeRIEEnd(inv, started, "timeout", "Sandbox.Timedout")
		return outcome{failed: true, payload: timeoutPayload(inv.id, timeout)}

	case resp.StatusCode == http.StatusOK:
		call, errType := p.awaitCall(inv)
		p.awaitReport(inv)
		// A handled error (the runtime's /error call) ends the invocation as
		// a success for the platform: RIE's REPORT line has no status, as
		// Lambda's has none ("status": "success"); only the invoke's
		// answer says Unhandled.
		p.writeRIEEnd(inv, started, "success", "")
		switch {
		case len(body) > maxPayloadBytes:
			return outcome{failed: true, payload: errorPayload("Function.ResponseSizeTooLarge", "Response payload size exceeded maximum allowed payload size (%d bytes).", maxPayloadBytes)}
		case call == "error":
			return outcome{failed: true, payload: normalizeError(body, errType)}
		}
		return outcome{payload: body}

	case resp.StatusCode == http.StatusBadGateway:
		// RIE's answer to a crash or a failed init (ErrInvokeDoneFailed,
		// ErrInitDoneFailed): the error body, and no END or REPORT line.
		// Lambda writes them, with "Status: error" and the error type
		// (platform.report's status "error" and errorType, Telemetry API
		// schema reference).
		errType := inv.fatalType()
		p.writeEnd(inv, time.Since(started), "error", errType)
		if !json.Valid(body) || len(bytes.TrimSpace(body)) == 0 {
			exit := inv.exitText()
			if exit == "" {
				exit = "exit status 1"
			}
			body = errorPayload(errType, "RequestId: %s Error: Runtime exited with error: %s", inv.id, exit)
		}
		return outcome{failed: true, payload: normalizeError(body, errType)}

	default:
		// RIE refused the invocation (busy, reservation lost): the
		// environment is unusable.
		p.kill()
		p.writeEnd(inv, time.Since(started), "error", "Runtime.Unknown")
		return outcome{failed: true, payload: errorPayload("Runtime.Unknown", "RequestId: %s Error: aws-lambda-rie answered %d: %s", inv.id, resp.StatusCode, strings.TrimSpace(string(body)))}
	}
}

// awaitCall waits until RIE's log of the runtime's /response or /error call
// has been read: RIE logs it before it answers the invoke, so it is already
// in the pipe.
func (p *process) awaitCall(inv *invocation) (call, errType string) {
	select {
	case <-inv.called:
	case <-p.exited:
	case <-time.After(logWait):
		p.rt.s.log.Warn("aws-lambda-rie logged no Runtime API call for an answered invocation", "function", p.t.name, "request_id", inv.id)
	}
	inv.mu.Lock()
	defer inv.mu.Unlock()
	return inv.call, inv.errorType
}

// awaitReport waits for RIE's REPORT line of the invocation (printed before
// RIE answers the invoke).
func (p *process) awaitReport(inv *invocation) {
	select {
	case <-inv.reported:
	case <-p.exited:
	case <-time.After(logWait):
		p.rt.s.log.Warn("aws-lambda-rie printed no REPORT line for an answered invocation", "function", p.t.name, "request_id", inv.id)
	}
}

// logWait bounds the wait for a line RIE has already written to a pipe.
const logWait = 5 * time.Second

// writeRIEEnd writes RIE's END and REPORT lines of the invocation, adding
// the status Lambda writes and RIE does not when it is not a success.
func (p *process) writeRIEEnd(inv *invocation, started time.Time, status, errType string) {
	inv.mu.Lock()
	end, report := inv.end, inv.report
	inv.mu.Unlock()
	if end == "" || report == "" {
		p.writeEnd(inv, time.Since(started), status, errType)
		return
	}
	p.write(p.render(end, status, errType))
	p.write(p.render(withStatus(report, status, errType), status, errType))
}

// writeEnd writes END and REPORT lines for an invocation RIE printed none
// for (a crash), in the format of RIE's (printEndReports in
// internal/lambda/rie/handlers.go), with Lambda's status.
func (p *process) writeEnd(inv *invocation, d time.Duration, status, errType string) {
	// What the crashed function wrote last is in the pipe already; with no
	// line of RIE's to wait for, let the reader go quiet first so the END
	// and REPORT lines come after it.
	for deadline := time.Now().Add(100 * time.Millisecond); time.Now().Before(deadline); {
		if time.Since(time.Unix(0, p.lastOut.Load())) > 5*time.Millisecond {
			break
		}
		time.Sleep(time.Millisecond)
	}
	ms := float64(d.Microseconds()) / 1000
	mem := strconv.Itoa(p.t.config.MemorySize)
	end := "END RequestId: " + inv.id
	report := fmt.Sprintf("REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %.f ms\tMemory Size: %s MB\tMax Memory Used: %s MB\t",
		inv.id, ms, math.Ceil(ms), mem, mem)
	p.write(p.render(end, status, errType))
	p.write(p.render(withStatus(report, status, errType), status, errType))
}

// withStatus adds Lambda's "Status: …" and "Error Type: …" fields to a
// REPORT line for an invocation that timed out or crashed (a success,
// handled errors included, has none). RIE's REPORT line ends in a tab.
func withStatus(report, status, errType string) string {
	if status == "success" {
		return report
	}
	if !strings.HasSuffix(report, "\t") {
		report += "\t"
	}
	report += "Status: " + status
	if status == "error" && errType != "" {
		report += "\tError Type: " + errType
	}
	return report
}
