package lambdasvc

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/core"
)

// initTimeout bounds a fresh process's start-up until it asks for its first
// event, as Lambda's init phase is bounded.
const initTimeout = 10 * time.Second

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
}

// invocation is one event handed to a runtime.
type invocation struct {
	id       string
	payload  []byte
	deadline time.Time
	arn      string
	trace    string
	crash    bool // fault injection: kill the process once it has the event
	result   chan outcome

	tailMu sync.Mutex
	tail   bytes.Buffer
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

// process is one running bootstrap with its Runtime API listener.
type process struct {
	rt      *runtime
	t       target
	group   string
	stream  string
	cmd     *exec.Cmd
	srv     *http.Server
	next    chan *invocation
	cur     atomic.Pointer[invocation]
	exited  chan struct{}
	exitMsg string
	initErr []byte
	fresh   bool
	idleAt  time.Time // when it last went idle (wall clock)
}

func (p *process) kill() {
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
	}
}

func (p *process) alive() bool {
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
			proc.fresh = false
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

// start launches the target's bootstrap with its own Runtime API listener.
func (rt *runtime) start(t target) (*process, error) {
	dir, err := rt.codeDir(t.codeKey)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("runtime api listener: %w", err)
	}
	now := rt.s.opts.Clock().UTC()
	p := &process{
		rt: rt, t: t, fresh: true,
		group:  t.config.LoggingConfig.LogGroup,
		stream: fmt.Sprintf("%s/[%s]%s", now.Format("2006/01/02"), t.version, randomHex(16)),
		next:   make(chan *invocation),
		exited: make(chan struct{}),
	}
	if p.group == "" {
		p.group = "/aws/lambda/" + t.name
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", p.handleNext)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", p.handleResponse)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", p.handleError)
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", p.handleInitError)
	p.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}

	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"TZ=UTC",
		"LANG=en_US.UTF-8",
		"LAMBDA_TASK_ROOT=" + dir,
		"LAMBDA_RUNTIME_DIR=" + dir,
		"_HANDLER=" + t.config.Handler,
		"AWS_EXECUTION_ENV=AWS_Lambda_" + t.config.Runtime,
		"AWS_LAMBDA_RUNTIME_API=" + ln.Addr().String(),
		"AWS_LAMBDA_FUNCTION_NAME=" + t.name,
		"AWS_LAMBDA_FUNCTION_VERSION=" + t.version,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + strconv.Itoa(t.config.MemorySize),
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
			env = append(env, k+"="+v)
		}
	}
	cmd, stdout, stderr, err := startBootstrap(dir, env, func() { go func() { _ = p.srv.Serve(ln) }() })
	if err != nil {
		_ = p.srv.Close()
		ln.Close()
		// The package has no runnable bootstrap: Lambda reports the same at invoke.
		return p.failedStart(fmt.Sprintf("Couldn't find valid bootstrap(s): [%s]: %v", filepath.Join("/var/task", "bootstrap"), err)), nil
	}
	p.cmd = cmd
	var readers sync.WaitGroup
	readers.Add(2)
	go p.pipe(stdout, &readers)
	go p.pipe(stderr, &readers)
	go func() {
		readers.Wait()
		err := cmd.Wait()
		if err != nil {
			p.exitMsg = err.Error()
		} else {
			p.exitMsg = "exit status 0"
		}
		close(p.exited)
		_ = p.srv.Close()
	}()
	rt.s.log.Debug("started function process", "function", t.name, "version", t.version, "pid", cmd.Process.Pid, "runtime_api", ln.Addr().String())
	return p, nil
}

// failedStart is a process that never ran: invoking it reports
// Runtime.InvalidEntrypoint.
func (p *process) failedStart(msg string) *process {
	p.initErr = errorPayload("Runtime.InvalidEntrypoint", "RequestId: - Error: %s", msg)
	p.exitMsg = msg
	close(p.exited)
	return p
}

// pipe forwards a process's output, line by line, to CloudWatch Logs and
// to the tail of the invocation being served.
func (p *process) pipe(r io.Reader, done *sync.WaitGroup) {
	defer done.Done()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		p.logLine(sc.Text())
	}
}

func (p *process) logLine(line string) {
	if sink := p.rt.s.opts.Logs; sink != nil {
		sink.Append(p.group, p.stream, p.rt.s.opts.Clock(), line)
	}
	if inv := p.cur.Load(); inv != nil {
		inv.appendTail(line)
	}
}

// platformLine writes one of Lambda's own START/END/REPORT lines, in the
// function's log format.
func (p *process) platformLine(inv *invocation, kind string, record map[string]any, text string) {
	line := text
	if p.t.config.LoggingConfig.LogFormat == "JSON" {
		record["requestId"] = inv.id
		b, _ := json.Marshal(map[string]any{
			"time": p.rt.s.opts.Clock().UTC().Format(time.RFC3339Nano), "type": "platform." + kind, "record": record,
		})
		line = string(b)
	}
	if sink := p.rt.s.opts.Logs; sink != nil {
		sink.Append(p.group, p.stream, p.rt.s.opts.Clock(), line)
	}
	inv.appendTail(line)
}

func (p *process) handleNext(w http.ResponseWriter, r *http.Request) {
	select {
	case inv := <-p.next:
		p.cur.Store(inv)
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
		h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.deadline.UnixMilli(), 10))
		h.Set("Lambda-Runtime-Invoked-Function-Arn", inv.arn)
		h.Set("Lambda-Runtime-Trace-Id", inv.trace)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(inv.payload)
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		if inv.crash {
			p.kill()
		}
	case <-p.exited:
	case <-r.Context().Done():
	}
}

// finish delivers an invocation's result when id is the one being served.
func (p *process) finish(w http.ResponseWriter, id string, out outcome) {
	inv := p.cur.Load()
	if inv == nil || inv.id != id {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write(errorPayload("InvalidRequestID", "Invalid request ID: %q", id))
		return
	}
	if inv.crash {
		p.kill()
		return
	}
	p.cur.Store(nil)
	select {
	case inv.result <- out:
	default:
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write([]byte(`{"status":"OK"}`))
}

func readBody(r *http.Request) []byte {
	b, _ := io.ReadAll(io.LimitReader(r.Body, maxPayloadBytes+1))
	return b
}

func (p *process) handleResponse(w http.ResponseWriter, r *http.Request) {
	body := readBody(r)
	if len(body) > maxPayloadBytes {
		p.finish(w, r.PathValue("id"), outcome{failed: true, payload: errorPayload("Function.ResponseSizeTooLarge", "Response payload size exceeded maximum allowed payload size (%d bytes).", maxPayloadBytes)})
		return
	}
	p.finish(w, r.PathValue("id"), outcome{payload: body})
}

func (p *process) handleError(w http.ResponseWriter, r *http.Request) {
	body := readBody(r)
	p.finish(w, r.PathValue("id"), outcome{failed: true, payload: normalizeError(body, r.Header.Get("Lambda-Runtime-Function-Error-Type"))})
}

func (p *process) handleInitError(w http.ResponseWriter, r *http.Request) {
	p.initErr = normalizeError(readBody(r), r.Header.Get("Lambda-Runtime-Function-Error-Type"))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write([]byte(`{"status":"OK"}`))
	// Lambda stops an environment whose init failed.
	go p.kill()
}

// exitOutcome is the result of an invocation whose process died.
func (p *process) exitOutcome(inv *invocation) outcome {
	// A result delivered just before the exit still counts.
	select {
	case out := <-inv.result:
		return out
	default:
	}
	if p.initErr != nil {
		return outcome{failed: true, payload: p.initErr}
	}
	return outcome{failed: true, payload: errorPayload("Runtime.ExitError", "RequestId: %s Error: Runtime exited with error: %s", inv.id, p.exitMsg)}
}

// run hands the payload to a warm process of the target and waits for the
// result, the timeout or the process's death.
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
	timeout := time.Duration(t.config.Timeout) * time.Second
	inv := &invocation{
		id:      newRevision(),
		payload: payload,
		arn:     t.arn,
		trace:   "Root=1-" + strconv.FormatInt(time.Now().Unix(), 16) + "-" + randomHex(12) + ";Sampled=0",
		crash:   rt.s.faults.takeCrash(t.name),
		result:  make(chan outcome, 1),
	}
	started := time.Now()
	inv.deadline = started.Add(timeout)
	proc.platformLine(inv, "start", map[string]any{"version": t.version}, fmt.Sprintf("START RequestId: %s Version: %s", inv.id, t.version))

	handoff := timeout
	if proc.fresh {
		handoff += initTimeout
	}
	hTimer := time.NewTimer(handoff)
	defer hTimer.Stop()
	var out outcome
	handed := false
	select {
	case proc.next <- inv:
		handed = true
	case <-proc.exited:
		out = proc.exitOutcome(inv)
	case <-hTimer.C:
		proc.kill()
		out = outcome{failed: true, payload: timeoutPayload(inv.id, timeout)}
	case <-ctx.Done():
		rt.release(pl, proc)
		return outcome{ctxErr: ctx.Err()}
	}
	if handed {
		done := make(chan outcome, 1)
		go func() {
			// The invocation runs to its end even when the caller gives up,
			// as it does on Lambda.
			deadline := time.NewTimer(time.Until(inv.deadline))
			defer deadline.Stop()
			var o outcome
			select {
			case o = <-inv.result:
			case <-proc.exited:
				o = proc.exitOutcome(inv)
			case <-deadline.C:
				proc.logLine(fmt.Sprintf("%s %s Task timed out after %.2f seconds", time.Now().UTC().Format(time.RFC3339Nano), inv.id, timeout.Seconds()))
				proc.kill()
				<-proc.exited
				o = outcome{failed: true, payload: timeoutPayload(inv.id, timeout)}
			}
			proc.cur.Store(nil)
			done <- o
		}()
		select {
		case out = <-done:
		case <-ctx.Done():
			go func() {
				rt.finishRun(pl, proc, inv, started, t, <-done)
			}()
			return outcome{ctxErr: ctx.Err()}
		}
	}
	rt.finishRun(pl, proc, inv, started, t, out)
	out.tail = inv.tailText()
	return out
}

// finishRun writes the END and REPORT lines and returns the environment.
// A failed invocation's REPORT line carries its status and error type
// ("Status: error", "Status: timeout"; in the JSON log format the
// platform.report record's status and errorType, as the Telemetry API's
// platform.report event has them), which the health check's fresh signal
// counts as errors.
func (rt *runtime) finishRun(pl *pool, proc *process, inv *invocation, started time.Time, t target, out outcome) {
	d := time.Since(started)
	ms := float64(d.Microseconds()) / 1000
	proc.platformLine(inv, "end", map[string]any{}, "END RequestId: "+inv.id)
	record := map[string]any{"metrics": map[string]any{
		"durationMs": ms, "billedDurationMs": int(ms) + 1, "memorySizeMB": t.config.MemorySize,
	}, "status": "success"}
	text := fmt.Sprintf("REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %d ms\tMemory Size: %d MB\tMax Memory Used: %d MB",
		inv.id, ms, int(ms)+1, t.config.MemorySize, min(t.config.MemorySize, 32))
	if out.failed {
		status, errType := "error", "Unhandled"
		var doc struct {
			ErrorType string `json:"errorType"`
		}
		if json.Unmarshal(out.payload, &doc) == nil && doc.ErrorType != "" {
			errType = doc.ErrorType
		}
		if strings.HasSuffix(errType, "Timedout") {
			status = "timeout"
		}
		record["status"], record["errorType"] = status, errType
		text += "\tStatus: " + status + "\tError Type: " + errType
	}
	proc.platformLine(inv, "report", record, text)
	rt.release(pl, proc)
}

// startBootstrap starts dir/bootstrap with env; serve is called once, just
// before the first start. A freshly written binary can be briefly "text file
// busy" (ETXTBSY) while a concurrently forked child still holds the writer's
// descriptor, so that error is retried for a moment instead of failing the
// function.
func startBootstrap(dir string, env []string, serve func()) (*exec.Cmd, io.ReadCloser, io.ReadCloser, error) {
	served := false
	for attempt := 0; ; attempt++ {
		cmd := exec.Command(filepath.Join(dir, "bootstrap"))
		cmd.Dir = dir
		cmd.Env = env
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return nil, nil, nil, err
		}
		stderr, err := cmd.StderrPipe()
		if err != nil {
			return nil, nil, nil, err
		}
		if !served {
			serve()
			served = true
		}
		err = cmd.Start()
		if err == nil {
			return cmd, stdout, stderr, nil
		}
		_ = stdout.Close()
		_ = stderr.Close()
		if !errors.Is(err, syscall.ETXTBSY) || attempt >= 100 {
			return nil, nil, nil, err
		}
		time.Sleep(10 * time.Millisecond)
	}
}
