package lambdasvc_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	lambdasvc "github.com/aliasflow/aliasflow/sandbox/lambda"
	"github.com/aliasflow/aliasflow/sandbox/lambda/lambdatest"
)

const initFailPkg = "./testdata/initfail"

// platformCase is one way an invocation ends, with what Lambda answers and
// writes for it.
type platformCase struct {
	name, pkg, payload string
	env                map[string]string
	// The invoke's answer: FunctionError "Unhandled" and the payload's
	// errorType, or no function error.
	wantErrorType string
	// The REPORT line's status fields: "" for none (a success, handled
	// errors included), else what follows "\tStatus: ".
	wantStatus string
	// A line the log stream must hold, as the process or Lambda wrote it.
	wantLog *regexp.Regexp
}

// platformCases: what Lambda writes for each way an invocation ends. A
// handled error (the runtime's /error call) is a success for the platform:
// no Status field on REPORT (AWS's Runtime Interface Emulator prints
// none; aws-samples/aws-lambda-extensions#85), only the invoke's
// FunctionError says Unhandled, and aws-lambda-go's reportFailure logs the
// error payload. Crashes, init failures and timeouts carry "Status: error"
// with the error type or "Status: timeout" (platform.report's status,
// Telemetry API schema reference,
// https://docs.aws.amazon.com/lambda/latest/dg/telemetry-schema-reference.html).
var platformCases = []platformCase{
	{name: "success", pkg: echoPkg, payload: `{"log":"all good"}`, wantLog: regexp.MustCompile(`^all good$`)},
	{name: "handled error", pkg: echoPkg, payload: `{"fail":"boom"}`, wantErrorType: "errorString",
		wantLog: regexp.MustCompile(`^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \{"errorMessage":"boom","errorType":"errorString"\}$`)},
	{name: "panic", pkg: echoPkg, payload: `{"panic":"oh no"}`, wantErrorType: "string", wantStatus: "error\tError Type: Runtime.ExitError",
		wantLog: regexp.MustCompile(`calling the handler function resulted in a panic, the process should exit$`)},
	{name: "os.Exit", pkg: echoPkg, payload: `{"exit":3}`, wantErrorType: "Runtime.ExitError", wantStatus: "error\tError Type: Runtime.ExitError"},
	{name: "timeout", pkg: echoPkg, payload: `{"sleepMs":4000}`, wantErrorType: "Sandbox.Timedout", wantStatus: "timeout",
		wantLog: regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z [0-9a-f-]+ Task timed out after 1\.00 seconds$`)},
	{name: "init failure (exit)", pkg: initFailPkg, payload: `{}`, wantErrorType: "Runtime.ExitError", wantStatus: "error\tError Type: Runtime.ExitError",
		wantLog: regexp.MustCompile(`^initfail: cannot start$`)},
	{name: "init failure (init/error)", pkg: initFailPkg, payload: `{}`, env: map[string]string{"INIT_FAIL": "report"},
		wantErrorType: "ConfigError", wantStatus: "error\tError Type: Runtime.ExitError"},
	{name: "oversized response", pkg: echoPkg, payload: `{"big":6291456}`, wantErrorType: "Function.ResponseSizeTooLarge"},
}

var reportLineRE = regexp.MustCompile(`^REPORT RequestId: [0-9a-f-]+\t(?:Init Duration: [0-9.]+ ms\t)?Duration: [0-9.]+ ms\tBilled Duration: \d+ ms\tMemory Size: 128 MB\tMax Memory Used: 128 MB\t(?:Status: (.*))?$`)

func TestPlatformLinesByOutcome(t *testing.T) {
	e := newEnv(t)
	for i, tc := range platformCases {
		t.Run(tc.name, func(t *testing.T) {
			name := fmt.Sprintf("fn%d", i)
			e.create(t, name, tc.pkg, func(in *lambda.CreateFunctionInput) {
				in.Timeout = aws.Int32(1)
				in.Environment = &types.Environment{Variables: tc.env}
			})
			out, err := e.client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(tc.payload), LogType: types.LogTypeTail})
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			checkAnswer(t, out, tc.wantErrorType)
			tail, _ := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
			report := ""
			for _, l := range strings.Split(string(tail), "\n") {
				if strings.HasPrefix(l, "REPORT ") {
					report = l
				}
			}
			m := reportLineRE.FindStringSubmatch(report)
			if m == nil {
				t.Fatalf("REPORT line = %q, want Lambda's format (log tail %q)", report, tail)
			}
			// The invocation's lines end with END and REPORT, after all the
			// function wrote.
			lines := strings.Split(strings.TrimRight(string(tail), "\n"), "\n")
			if n := len(lines); n < 2 || lines[n-1] != report || !strings.HasPrefix(lines[n-2], "END RequestId: ") {
				t.Errorf("log tail ends %q, want END then REPORT last", lines[max(0, len(lines)-3):])
			}
			if m[1] != tc.wantStatus {
				t.Errorf("REPORT status = %q, want %q (line %q)", m[1], tc.wantStatus, report)
			}
			group := "/aws/lambda/" + name
			if !e.logs.contains(group, report) {
				t.Errorf("log group %s lacks the REPORT line %q", group, report)
			}
			if tc.wantLog != nil && !e.logs.matches(group, tc.wantLog) {
				t.Errorf("log group %s has no line matching %s: %q", group, tc.wantLog, e.logs.lines[group])
			}
			if e.logs.matches(group, regexp.MustCompile(`\[(DEBUG|INFO|WARNING|ERROR)\] \(rapid\)`)) {
				t.Errorf("log group %s holds RIE's own diagnostics: %q", group, e.logs.lines[group])
			}
		})
	}
}

func checkAnswer(t *testing.T, out *lambda.InvokeOutput, wantErrorType string) {
	t.Helper()
	if wantErrorType == "" {
		if out.FunctionError != nil {
			t.Fatalf("FunctionError = %q (%.300s), want none", aws.ToString(out.FunctionError), out.Payload)
		}
		return
	}
	if got := aws.ToString(out.FunctionError); got != "Unhandled" {
		t.Errorf("FunctionError = %q, want Unhandled (payload %.300s)", got, out.Payload)
	}
	var fe struct{ ErrorType, ErrorMessage string }
	if err := json.Unmarshal(out.Payload, &fe); err != nil || fe.ErrorType != wantErrorType {
		t.Errorf("payload errorType = %q (%v), want %q: %.300s", fe.ErrorType, err, wantErrorType, out.Payload)
	}
}

// TestJSONPlatformRecordsByOutcome: in the JSON log format Lambda writes
// platform.start, platform.runtimeDone and platform.report records (Configuring
// JSON and plain text log formats,
// https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-logformat.html)
// whose status is "success" for a handled error.
func TestJSONPlatformRecordsByOutcome(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name, payload, wantStatus, wantErrorType string
	}{
		{"success", `{}`, "success", ""},
		{"handled error", `{"fail":"boom"}`, "success", ""},
		{"os.Exit", `{"exit":3}`, "error", "Runtime.ExitError"},
		{"timeout", `{"sleepMs":4000}`, "timeout", ""},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			name := fmt.Sprintf("json%d", i)
			e.create(t, name, echoPkg, func(in *lambda.CreateFunctionInput) {
				in.Timeout = aws.Int32(1)
				in.LoggingConfig = &types.LoggingConfig{LogFormat: types.LogFormatJson}
			})
			out, err := e.client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(tc.payload), LogType: types.LogTypeTail})
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			tail, _ := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
			var types []string
			for _, l := range strings.Split(strings.TrimSpace(string(tail)), "\n") {
				var rec struct {
					Type   string `json:"type"`
					Record struct {
						RequestID string             `json:"requestId"`
						Status    string             `json:"status"`
						ErrorType string             `json:"errorType"`
						Metrics   map[string]float64 `json:"metrics"`
					} `json:"record"`
				}
				if json.Unmarshal([]byte(l), &rec) != nil || !strings.HasPrefix(rec.Type, "platform.") {
					continue
				}
				types = append(types, rec.Type)
				if rec.Type == "platform.start" {
					continue
				}
				if rec.Record.Status != tc.wantStatus || rec.Record.ErrorType != tc.wantErrorType {
					t.Errorf("%s status/errorType = %q/%q, want %q/%q (%s)", rec.Type, rec.Record.Status, rec.Record.ErrorType, tc.wantStatus, tc.wantErrorType, l)
				}
				if rec.Type == "platform.report" && (rec.Record.Metrics["durationMs"] <= 0 || rec.Record.Metrics["memorySizeMB"] != 128) {
					t.Errorf("platform.report metrics = %v, want durationMs > 0 and memorySizeMB 128", rec.Record.Metrics)
				}
			}
			if got := strings.Join(types, ","); got != "platform.start,platform.runtimeDone,platform.report" {
				t.Errorf("platform records = %s, want platform.start,platform.runtimeDone,platform.report (tail %q)", got, tail)
			}
		})
	}
}

// TestReportLinesMatchRIE holds the sandbox to AWS's Runtime Interface
// Emulator run by hand over the same bootstrap: the REPORT line of each
// outcome RIE reports by itself (success, handled error, timeout) has the
// same fields, the sandbox adding only Lambda's "Status: timeout".
func TestReportLinesMatchRIE(t *testing.T) {
	rie, err := lambdasvc.RIE()
	if err != nil {
		t.Fatal(err)
	}
	bootstrap := lambdatest.Build(t, echoPkg)
	e := newEnv(t)
	e.create(t, "diff", echoPkg, func(in *lambda.CreateFunctionInput) { in.Timeout = aws.Int32(1) })
	numbers := regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f-]{27}|[0-9]+(\.[0-9]+)?`)
	cases := []struct{ name, payload, sandboxExtra string }{
		{"success", `{}`, ""},
		{"handled error", `{"fail":"boom"}`, ""},
		{"timeout", `{"sleepMs":4000}`, "Status: timeout"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			direct := runRIE(t, rie, bootstrap, tc.payload)
			out, err := e.client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("diff"), Payload: []byte(tc.payload), LogType: types.LogTypeTail})
			if err != nil {
				t.Fatal(err)
			}
			tail, _ := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
			sandbox := ""
			for _, l := range strings.Split(string(tail), "\n") {
				if strings.HasPrefix(l, "REPORT ") {
					sandbox = l
				}
			}
			// Init Duration appears on an environment's first invocation only.
			strip := func(s string) string {
				s = regexp.MustCompile(`Init Duration: [0-9.]+ ms\t`).ReplaceAllString(s, "")
				return numbers.ReplaceAllString(s, "N")
			}
			if got, want := strip(sandbox), strip(direct)+tc.sandboxExtra; got != want {
				t.Errorf("sandbox REPORT %q\n  RIE REPORT %q\n  normalized: %q, want %q", sandbox, direct, got, want)
			}
		})
	}
}

// runRIE runs one invocation through aws-lambda-rie directly and returns
// its REPORT line.
func runRIE(t *testing.T, rie, bootstrap, payload string) string {
	t.Helper()
	ports := make([]string, 2)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = ln.Addr().String()
		ln.Close()
	}
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", ports[0], "--runtime-api-address", ports[1], bootstrap)
	cmd.Dir = filepath.Dir(bootstrap)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "AWS_LAMBDA_FUNCTION_TIMEOUT=1", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128", "AWS_LAMBDA_FUNCTION_NAME=diff"}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	reports := make(chan string, 4)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "REPORT ") {
				reports <- sc.Text()
			}
		}
	}()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Post("http://"+ports[0]+"/2015-03-31/functions/function/invocations", "application/json", strings.NewReader(payload))
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("aws-lambda-rie did not answer: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case r := <-reports:
		return r
	case <-time.After(15 * time.Second):
		t.Fatal("aws-lambda-rie printed no REPORT line")
		return ""
	}
}

// TestCrashNextBeforeTheHandlerRuns: an injected crash ends the invocation
// with Runtime.ExitError and a REPORT line with "Status: error" before the
// handler runs (so a retried task does its work once), whether the
// environment is fresh or warm.
func TestCrashNextBeforeTheHandlerRuns(t *testing.T) {
	e := newEnv(t)
	e.create(t, "crashy", echoPkg)
	invoke := func(payload string) *lambda.InvokeOutput {
		t.Helper()
		out, err := e.client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("crashy"), Payload: []byte(payload), LogType: types.LogTypeTail})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, tc := range []struct{ name, warmUp string }{{"fresh environment", ""}, {"warm environment", `{"log":"warming up"}`}} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.warmUp != "" {
				checkAnswer(t, invoke(tc.warmUp), "")
			}
			marker := "handler ran: " + tc.name
			e.svc.Faults().CrashNext("crashy", 1)
			out := invoke(fmt.Sprintf(`{"log":%q}`, marker))
			checkAnswer(t, out, "Runtime.ExitError")
			tail, _ := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
			if !regexp.MustCompile(`(?m)^START RequestId: .*\n(?s:.*)^REPORT RequestId: .*\tStatus: error\tError Type: Runtime.ExitError$`).Match(tail) {
				t.Errorf("log tail = %q, want START and a REPORT line with Status: error", tail)
			}
			if e.logs.contains("/aws/lambda/crashy", marker) {
				t.Errorf("the handler ran before the injected crash")
			}
			checkAnswer(t, invoke(`{}`), "")
		})
	}
}

// TestLogStreamNames: an environment's stream in the function's own group is
// YYYY/MM/DD/[version]id; in a custom log group it carries the function's
// name, "YYYY/MM/DD/<function_name>[<function_version>][<execution_environment_GUID>]"
// (Configuring CloudWatch log groups,
// https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-loggroups.html).
func TestLogStreamNames(t *testing.T) {
	e := newEnv(t)
	cases := []struct{ name, logGroup, wantGroup, wantStream string }{
		{"default", "", "/aws/lambda/default", `^2026/11/21/\[\$LATEST\][0-9a-f]{32}$`},
		{"custom", "/aliasflow/custom", "/aliasflow/custom", `^2026/11/21/custom\[\$LATEST\][0-9a-f]{32}$`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.create(t, tc.name, echoPkg, func(in *lambda.CreateFunctionInput) {
				if tc.logGroup != "" {
					in.LoggingConfig = &types.LoggingConfig{LogGroup: aws.String(tc.logGroup)}
				}
			})
			out, err := e.client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String(tc.name), Payload: []byte(`{"env":"AWS_LAMBDA_LOG_STREAM_NAME"}`)})
			if err != nil {
				t.Fatal(err)
			}
			if !e.logs.streamMatches(tc.wantGroup, tc.wantStream) {
				t.Errorf("streams of %s = %q, want each matching %s", tc.wantGroup, e.logs.streams[tc.wantGroup], tc.wantStream)
			}
			var m map[string]any
			_ = json.Unmarshal(out.Payload, &m)
			if s, _ := m["env"].(string); !regexp.MustCompile(tc.wantStream).MatchString(s) {
				t.Errorf("AWS_LAMBDA_LOG_STREAM_NAME = %q, want %s", s, tc.wantStream)
			}
		})
	}
}

// TestLongLogLinesAreCut: a line longer than CloudWatch Logs' 256 KB event
// limit is cut there, and the environment keeps serving (its output pipe
// never fills).
func TestLongLogLinesAreCut(t *testing.T) {
	e := newEnv(t)
	e.create(t, "chatty", echoPkg)
	long := strings.Repeat("y", 2<<20)
	for i := range 2 {
		out, err := e.client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("chatty"), Payload: []byte(fmt.Sprintf(`{"log":%q}`, long))})
		if err != nil {
			t.Fatalf("invoke %d: %v", i, err)
		}
		checkAnswer(t, out, "")
	}
	e.logs.mu.Lock()
	defer e.logs.mu.Unlock()
	cut := 0
	for _, l := range e.logs.lines["/aws/lambda/chatty"] {
		if strings.HasPrefix(l, "yyyy") {
			if len(l) != 256*1024 {
				t.Errorf("long line kept %d bytes, want 262144", len(l))
			}
			cut++
		}
	}
	if cut != 2 {
		t.Errorf("long lines in the log group: %d, want 2", cut)
	}
}

// TestRuntimeAPIPortTakenIsNotAFunctionError: RIE binds its Runtime API only
// at the first invoke and panics (exit status 2) when the port is taken; the
// event never reached the function, so the sandbox sends it to a fresh
// environment — the caller sees a plain success, and the log stream no
// crash (a stray "Status: error" would count against the version).
func TestRuntimeAPIPortTakenIsNotAFunctionError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	defer lambdasvc.TakeRuntimeAPIPortOnce(ln.Addr().String())()
	e := newEnv(t)
	e.create(t, "echo", echoPkg)
	out, err := e.client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("echo"), Payload: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	if fe := aws.ToString(out.FunctionError); fe != "" {
		t.Fatalf("FunctionError %q, payload %s; want the invocation served by a fresh environment", fe, out.Payload)
	}
	if e.logs.contains("/aws/lambda/echo", "Status: error") {
		t.Errorf("the log stream has a crash for an event no function got")
	}
}

// TestInvokePortTakenByAnotherProcess: an environment whose invoke port
// another process took first (another sandbox's RIE, in another test
// process: ports are chosen per process) is not taken for started because
// something answers on the port. Before, the readiness dial reached the
// other listener, this RIE died on its bind, the event went to the other
// process, and the invocation's log had END and REPORT but no START — the
// intermittent "platform records = platform.runtimeDone,platform.report"
// of TestJSONPlatformRecordsByOutcome on a loaded machine.
func TestInvokePortTakenByAnotherProcess(t *testing.T) {
	var foreign atomic.Int32
	other := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		foreign.Add(1)
		_, _ = io.WriteString(w, `"another process's function"`)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = other.Serve(ln) }()
	defer other.Close()
	defer lambdasvc.TakeInvokePortOnce(ln.Addr().String())()
	e := newEnv(t)
	e.create(t, "json", echoPkg, func(in *lambda.CreateFunctionInput) {
		in.LoggingConfig = &types.LoggingConfig{LogFormat: types.LogFormatJson}
	})
	out, err := e.client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("json"), Payload: []byte(`{"echo":"mine"}`), LogType: types.LogTypeTail})
	if err != nil {
		t.Fatal(err)
	}
	if fe := aws.ToString(out.FunctionError); fe != "" || strings.Contains(string(out.Payload), "another process") {
		t.Errorf("answer %q (FunctionError %q), want the function's own", out.Payload, fe)
	}
	if n := foreign.Load(); n != 0 {
		t.Errorf("the other process's listener got %d requests, want none", n)
	}
	tail, _ := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
	var kinds []string
	for _, l := range strings.Split(strings.TrimSpace(string(tail)), "\n") {
		var rec struct {
			Type string `json:"type"`
		}
		if json.Unmarshal([]byte(l), &rec) == nil && strings.HasPrefix(rec.Type, "platform.") {
			kinds = append(kinds, rec.Type)
		}
	}
	if got := strings.Join(kinds, ","); got != "platform.start,platform.runtimeDone,platform.report" {
		t.Errorf("platform records = %s, want platform.start,platform.runtimeDone,platform.report (tail %q)", got, tail)
	}
}
