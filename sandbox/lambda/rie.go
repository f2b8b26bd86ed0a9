package lambdasvc

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// rieBinary is the name of AWS's Runtime Interface Emulator
// (github.com/aws/aws-lambda-runtime-interface-emulator, cmd/aws-lambda-rie),
// a Go tool of this module: `make build-local` builds it into dist/local.
const rieBinary = "aws-lambda-rie"

// riePackage is its main package, built when no binary is found.
const riePackage = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"

var (
	rieOnce sync.Once
	rieAt   string
	rieErr  error
)

// RIEPath, when set (before the first invocation), is where the sandbox
// finds aws-lambda-rie; otherwise it looks in $ALIASFLOW_BIN_DIR, beside
// and under the running executable (bin/ → dist/local), on PATH, and last
// builds it with the go tool into the user cache.
var RIEPath string

func riePath() (string, error) {
	rieOnce.Do(func() { rieAt, rieErr = findRIE() })
	return rieAt, rieErr
}

func findRIE() (string, error) {
	var candidates []string
	if RIEPath != "" {
		candidates = append(candidates, RIEPath)
	}
	if d := os.Getenv("ALIASFLOW_BIN_DIR"); d != "" {
		candidates = append(candidates, filepath.Join(d, rieBinary))
	}
	if exe, err := os.Executable(); err == nil {
		dir := filepath.Dir(exe)
		candidates = append(candidates, filepath.Join(dir, rieBinary), filepath.Join(dir, "..", "dist", "local", rieBinary))
	}
	for _, c := range candidates {
		if fi, err := os.Stat(c); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return c, nil
		}
	}
	if p, err := exec.LookPath(rieBinary); err == nil {
		return p, nil
	}
	// In a checkout (tests, `go run`), the go tool can build it from the
	// module's tool dependency; the build cache makes this cheap after once.
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	out := filepath.Join(cache, "aliasflow", rieBinary)
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, riePackage)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("the Lambda Runtime Interface Emulator (%s) is missing: run `make build-local` (it builds dist/local/%s) or set ALIASFLOW_BIN_DIR; building it failed: %v: %s",
			rieBinary, rieBinary, err, strings.TrimSpace(string(msg)))
	}
	return out, nil
}

// rieClient talks to RIE's invoke endpoint on loopback; RIE bounds each
// invocation by the function's timeout.
var rieClient = &http.Client{Transport: &http.Transport{Proxy: nil, DisableCompression: true, MaxIdleConnsPerHost: 4, IdleConnTimeout: time.Minute}}

// readStdout routes RIE's standard output — the function's stdout and
// stderr, which RIE's runtime writes to it, and RIE's START, END and REPORT
// lines — to the log stream. END and REPORT of the current invocation are
// held back for invoke, which adds what Lambda writes and RIE does not.
func (p *process) readStdout(r io.Reader) {
	eachLine(r, func(line string) {
		p.lastOut.Store(time.Now().UnixNano())
		if inv := p.cur.Load(); inv != nil {
			switch {
			case line == "END RequestId: "+inv.id:
				inv.mu.Lock()
				inv.end = line
				inv.mu.Unlock()
				return
			case strings.HasPrefix(line, "REPORT RequestId: "+inv.id+"\t"):
				inv.mu.Lock()
				inv.report = inv.reportLine(line)
				inv.mu.Unlock()
				closeOnce(inv.reported)
				return
			case strings.HasPrefix(line, "START RequestId: "+inv.id+" "):
				inv.mu.Lock()
				inv.startLine = true
				inv.mu.Unlock()
				p.write(p.render(line, "", ""))
				return
			}
		}
		p.write(line)
	})
}

// maxLogLine is the longest line kept: CloudWatch Logs takes events of up
// to 256 KB (CloudWatch Logs quotas); the rest of a longer line is dropped.
const maxLogLine = 256 * 1024

// eachLine calls fn with each line r holds, cutting lines longer than
// maxLogLine, and reads r to its end whatever the lines are, so a process
// never blocks on a full pipe.
func eachLine(r io.Reader, fn func(string)) {
	br := bufio.NewReaderSize(r, 64*1024)
	var line []byte
	for {
		chunk, more, err := br.ReadLine()
		if room := maxLogLine - len(line); room > 0 {
			line = append(line, chunk[:min(len(chunk), room)]...)
		}
		if err != nil {
			if len(line) > 0 {
				fn(string(line))
			}
			return
		}
		if !more {
			fn(string(line))
			line = line[:0]
		}
	}
}

var (
	// RIE's rapi middleware logs every Runtime API request at debug level
	// (internal/lambda/rapi/middleware/middleware.go): "API request - POST
	// /2018-06-01/runtime/invocation/<id>/error, Headers:map[…]".
	rieCallRE      = regexp.MustCompile(`API request - POST /2018-06-01/runtime/invocation/([^/\s]+)/(response|error)\b`)
	rieErrorTypeRE = regexp.MustCompile(`Lambda-Runtime-Function-Error-Type:\[([^\]]*)\]`)
	rieStartRE     = regexp.MustCompile(`INVOKE START\(requestId: ([^)\s]+)\)`)
	rieFatalRE     = regexp.MustCompile(`First fatal error stored in appctx: (\S+)`)
	rieExitRE      = regexp.MustCompile(`Process runtime-\d+ exited: (.+)$`)
)

// readStderr reads RIE's own diagnostics: they are not part of the log
// stream (on Lambda they are the platform's), so they go to the sandbox's
// debug log, and the few facts RIE's invoke answer leaves out are taken
// from them: which Runtime API call ended an invocation, and how a crashed
// runtime ended.
func (p *process) readStderr(r io.Reader) {
	eachLine(r, func(line string) {
		p.rt.s.log.Debug("aws-lambda-rie", "function", p.t.name, "version", p.t.version, "line", line)
		if strings.Contains(line, "Runtime API Server failed to listen") {
			// rapid.doRuntimeDomainInit's log.Panic: RIE exits before any
			// runtime process gets an event.
			p.apiFailed.Store(true)
		}
		inv := p.cur.Load()
		if inv == nil {
			return
		}
		if m := rieCallRE.FindStringSubmatch(line); m != nil && m[1] == inv.id {
			inv.mu.Lock()
			if inv.call == "" {
				inv.call = m[2]
				if t := rieErrorTypeRE.FindStringSubmatch(line); t != nil {
					inv.errorType = t[1]
				}
			}
			inv.mu.Unlock()
			closeOnce(inv.called)
			return
		}
		if m := rieStartRE.FindStringSubmatch(line); m != nil && m[1] == inv.id {
			closeOnce(inv.started)
			return
		}
		if m := rieFatalRE.FindStringSubmatch(line); m != nil {
			inv.mu.Lock()
			inv.fatal = m[1]
			inv.mu.Unlock()
			return
		}
		if m := rieExitRE.FindStringSubmatch(line); m != nil {
			inv.mu.Lock()
			inv.exit = m[1]
			inv.mu.Unlock()
		}
	})
}

var closeMu sync.Mutex

func closeOnce(c chan struct{}) {
	closeMu.Lock()
	defer closeMu.Unlock()
	select {
	case <-c:
	default:
		close(c)
	}
}

func (inv *invocation) exitText() string {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	return inv.exit
}

// fatalType is RIE's classification of the failure that ended the
// invocation, Runtime.ExitError unless it logged another.
func (inv *invocation) fatalType() string {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if inv.fatal != "" {
		return inv.fatal
	}
	return "Runtime.ExitError"
}

// injectCrash makes the invocation end as if the function's process died
// once it had the event, before the handler could run (Faults.CrashNext):
// the running runtime is stopped, and killed when RIE hands it the event,
// so RIE itself reports the crash. An environment whose runtime has not
// started yet (its first invocation) is stopped whole before the event
// reaches it.
func (p *process) injectCrash(inv *invocation) {
	kids, err := children(p.cmd.Process.Pid)
	if err != nil || len(kids) == 0 {
		p.kill()
		<-p.exited
		return
	}
	for _, pid := range kids {
		_ = syscall.Kill(-pid, syscall.SIGSTOP)
	}
	// A stop takes effect once the process is scheduled: wait for it before
	// the event can reach the runtime.
	deadline := time.Now().Add(time.Second)
	for _, pid := range kids {
		for !stopped(pid) && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	}
	go func() {
		select {
		case <-inv.started:
		case <-p.exited:
		case <-time.After(startTimeout):
		}
		for _, pid := range kids {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}()
}

// stopped reports whether /proc says the process is stopped (state T).
func stopped(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true // gone
	}
	// pid (comm) state ...: comm may hold spaces, so read after the last ')'.
	i := strings.LastIndexByte(string(b), ')')
	return i >= 0 && i+2 < len(b) && (b[i+2] == 'T' || b[i+2] == 't')
}

// killRuntime kills the function's process, leaving RIE to notice, as a
// crash of the function would. RIE starts the runtime in its own process
// group (internal/lambda/supervisor/local_supervisor.go), so the group is
// killed. Where the children cannot be found (no /proc), the whole
// environment is stopped instead.
func (p *process) killRuntime() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	kids, err := children(p.cmd.Process.Pid)
	if err != nil || len(kids) == 0 {
		_ = p.cmd.Process.Kill()
		return
	}
	for _, pid := range kids {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// children lists a process's child processes from /proc.
func children(pid int) ([]int, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	if err != nil {
		return nil, err
	}
	if len(tasks) == 0 {
		return nil, errors.New("no /proc")
	}
	var out []int
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
	}
	return out, nil
}

// reportFieldRE reads the fields of a REPORT line ("Duration: 1.23 ms").
var reportFieldRE = regexp.MustCompile(`(Init Duration|Duration|Billed Duration|Memory Size|Max Memory Used): ([0-9.]+) (?:ms|MB)`)

// render is a platform line (START, END, REPORT) as the function's log
// format has it. In the text format that is the line itself. In the JSON
// format — which RIE does not have — Lambda writes platform.start,
// platform.runtimeDone and platform.report records with the Telemetry API's
// record schemas ("Configuring JSON and plain text log formats",
// https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-logformat.html;
// Telemetry API schema reference,
// https://docs.aws.amazon.com/lambda/latest/dg/telemetry-schema-reference.html):
// status "success" for a handled error, "error" with errorType for a
// crash, "timeout" for a timeout.
func (p *process) render(line, status, errType string) string {
	if p.t.config.LoggingConfig.LogFormat != "JSON" {
		return line
	}
	kind, record := "", map[string]any{}
	switch {
	case strings.HasPrefix(line, "START RequestId: "):
		id, version, _ := strings.Cut(strings.TrimPrefix(line, "START RequestId: "), " Version: ")
		kind, record["requestId"], record["version"] = "platform.start", id, version
	case strings.HasPrefix(line, "END RequestId: "):
		kind, record["requestId"], record["status"] = "platform.runtimeDone", strings.TrimPrefix(line, "END RequestId: "), status
		if status == "error" && errType != "" {
			record["errorType"] = errType
		}
	case strings.HasPrefix(line, "REPORT RequestId: "):
		id, _, _ := strings.Cut(strings.TrimPrefix(line, "REPORT RequestId: "), "\t")
		metrics := map[string]any{}
		names := map[string]string{"Init Duration": "initDurationMs", "Duration": "durationMs", "Billed Duration": "billedDurationMs",
			"Memory Size": "memorySizeMB", "Max Memory Used": "maxMemoryUsedMB"}
		for _, m := range reportFieldRE.FindAllStringSubmatch(line, -1) {
			if v, err := strconv.ParseFloat(m[2], 64); err == nil {
				metrics[names[m[1]]] = v
			}
		}
		kind, record["requestId"], record["metrics"], record["status"] = "platform.report", id, metrics, status
		if status == "error" && errType != "" {
			record["errorType"] = errType
		}
	default:
		return line
	}
	b, _ := json.Marshal(map[string]any{"time": p.rt.s.opts.Clock().UTC().Format("2006-01-02T15:04:05.000Z"), "type": kind, "record": record})
	return string(b)
}
