package lambdasvc_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	lambdasvc "github.com/aliasflow/aliasflow/sandbox/lambda"
)

const helloNode = "../../examples/hello-node"

// requireNodeRuntime skips, outside CI, when AWS's Node.js runtime
// interface client is not installed (make build-local installs it into
// dist/local/nodejs); in CI (CI set) its absence fails.
func requireNodeRuntime(t *testing.T) {
	t.Helper()
	if _, err := lambdasvc.NodeRuntime("nodejs20.x"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
}

// TestNodeRuntime runs a nodejs20.x function as Lambda runs one: AWS's
// Runtime Interface Emulator starts this machine's node with AWS's
// runtime interface client (npm aws-lambda-ric), which loads the handler
// from the package. A thrown error is a handled error — the invoke says
// Unhandled with the runtime's error document, the REPORT line has no
// Status (the platform reports success) and only the runtime's own
// "Invoke Error" line in the log stream shows it; an unknown handler is
// the runtime's init error.
func TestNodeRuntime(t *testing.T) {
	requireNodeRuntime(t)
	code, err := lambdasvc.ZipDir(helloNode)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	tests := []struct {
		name          string
		handler       string
		env           map[string]string
		wantErrorType string
		wantBody      string
		wantStatus    string // the REPORT line's, "" for none
		wantLog       *regexp.Regexp
	}{
		{name: "success", handler: "index.handler", wantBody: `"message":"Hello from Lambda","version":"$LATEST"`},
		{name: "handled error", handler: "index.handler", env: map[string]string{"HELLO_FAILURE_RATE": "1"}, wantErrorType: "Error",
			wantLog: regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t[0-9a-f-]{36}\tERROR\tInvoke Error \t\{"errorType":"Error","errorMessage":"hello \$LATEST: injected failure \(failure rate 1\.00\)"`)},
		// The client posts the init error and exits: the invoke answers
		// its error type, the REPORT line the exit (as RIE reports a Go
		// runtime's init/error, TestPlatformLinesByOutcome).
		{name: "no such handler", handler: "missing.handler", wantErrorType: "Runtime.ImportModuleError", wantStatus: "error\tError Type: Runtime.ExitError"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			name := "node" + string(rune('a'+i))
			if _, err := e.client.CreateFunction(context.Background(), &lambda.CreateFunctionInput{
				FunctionName: aws.String(name), Runtime: types.RuntimeNodejs20x, Handler: aws.String(tc.handler), Role: aws.String(role),
				Code: &types.FunctionCode{ZipFile: code}, Timeout: aws.Int32(10), Environment: &types.Environment{Variables: tc.env},
			}); err != nil {
				t.Fatalf("CreateFunction: %v", err)
			}
			e.clock.Advance(e.opts.UpdateDuration)
			out, err := e.client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String(name),
				Payload: []byte(`{"httpMethod":"GET","path":"/","requestContext":{"stage":"dev"}}`), LogType: types.LogTypeTail})
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			checkAnswer(t, out, tc.wantErrorType)
			if tc.wantBody != "" {
				var resp struct {
					StatusCode int    `json:"statusCode"`
					Body       string `json:"body"`
				}
				if err := json.Unmarshal(out.Payload, &resp); err != nil || resp.StatusCode != 200 || !strings.Contains(resp.Body, tc.wantBody) {
					t.Errorf("answer %s (%v), want status 200 and a body with %s", out.Payload, err, tc.wantBody)
				}
			}
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
			if m[1] != tc.wantStatus {
				t.Errorf("REPORT status = %q, want %q", m[1], tc.wantStatus)
			}
			if tc.wantLog != nil && !e.logs.matches("/aws/lambda/"+name, tc.wantLog) {
				t.Errorf("log group has no line matching %s: %q", tc.wantLog, e.logs.lines["/aws/lambda/"+name])
			}
		})
	}
}

// TestSwitchToNode: a Go function becomes a Node.js one over the API, as
// `aliasflow local deploy-code --runtime` does it: UpdateFunctionConfiguration
// (PUT …/configuration) with the runtime and handler, then
// UpdateFunctionCode with the directory's zip; a Node.js runtime without a
// handler is refused and changes nothing.
func TestSwitchToNode(t *testing.T) {
	requireNodeRuntime(t)
	code, err := lambdasvc.ZipDir(helloNode)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	e.create(t, "switch", echoPkg)
	ctx := context.Background()
	if _, err := e.client.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("switch"),
		Runtime: types.RuntimeNodejs20x, Handler: aws.String("")}); err == nil || !strings.Contains(err.Error(), "Handler") {
		t.Errorf("switch to nodejs20.x without a handler: %v, want refused naming Handler", err)
	}
	cfg, err := e.client.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("switch"),
		Runtime: types.RuntimeNodejs20x, Handler: aws.String("index.handler")})
	if err != nil {
		t.Fatalf("UpdateFunctionConfiguration: %v", err)
	}
	if cfg.Runtime != types.RuntimeNodejs20x || aws.ToString(cfg.Handler) != "index.handler" {
		t.Errorf("configuration = %s / %s, want nodejs20.x / index.handler", cfg.Runtime, aws.ToString(cfg.Handler))
	}
	e.clock.Advance(e.opts.UpdateDuration)
	if _, err := e.client.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("switch"), ZipFile: code}); err != nil {
		t.Fatalf("UpdateFunctionCode: %v", err)
	}
	e.clock.Advance(e.opts.UpdateDuration)
	out, err := e.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("switch"), Payload: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	checkAnswer(t, out, "")
	if !strings.Contains(string(out.Payload), `Hello from Lambda`) {
		t.Errorf("answer %s, want hello-node's", out.Payload)
	}
}

// TestNodeRuntimeVersions: each Node.js runtime runs on its own major
// version of Node.js, as Lambda's do — nodejs20.x on Node.js 20 (every
// machine of this kind has it), nodejs22.x on Node.js 22 (the project's
// npm dependency node@22, which aws-lambda-ric's engines field asks for).
func TestNodeRuntimeVersions(t *testing.T) {
	requireNodeRuntime(t)
	code, err := lambdasvc.ZipDir("testdata/nodeversion")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	for _, tc := range []struct{ runtime, major string }{{"nodejs20.x", "20."}, {"nodejs22.x", "22."}} {
		t.Run(tc.runtime, func(t *testing.T) {
			name := "version-" + strings.TrimSuffix(tc.runtime, ".x")
			if _, err := e.client.CreateFunction(context.Background(), &lambda.CreateFunctionInput{
				FunctionName: aws.String(strings.ReplaceAll(name, ".", "")), Runtime: types.Runtime(tc.runtime), Handler: aws.String("index.handler"),
				Role: aws.String(role), Code: &types.FunctionCode{ZipFile: code},
			}); err != nil {
				t.Fatalf("CreateFunction: %v", err)
			}
			e.clock.Advance(e.opts.UpdateDuration)
			out, err := e.client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String(strings.ReplaceAll(name, ".", ""))})
			if err != nil {
				t.Fatal(err)
			}
			checkAnswer(t, out, "")
			var got struct{ Node, ExecutionEnv string }
			if err := json.Unmarshal(out.Payload, &got); err != nil {
				t.Fatalf("answer %s: %v", out.Payload, err)
			}
			if !strings.HasPrefix(got.Node, tc.major) || got.ExecutionEnv != "AWS_Lambda_"+tc.runtime {
				t.Errorf("%s ran on Node.js %s as %s, want Node.js %sx as AWS_Lambda_%s", tc.runtime, got.Node, got.ExecutionEnv, tc.major, tc.runtime)
			}
		})
	}
}

// TestNodeRuntimeSettings: the sandbox runs nodejs20.x and nodejs22.x
// beside the custom runtimes; another runtime is refused naming those it
// runs, and a Node.js function needs its handler.
func TestNodeRuntimeSettings(t *testing.T) {
	code, err := lambdasvc.ZipDir(helloNode)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	tests := []struct {
		name             string
		runtime, handler string
		want             string // "" when created
	}{
		{name: "nodejs20.x", runtime: "nodejs20.x", handler: "index.handler"},
		{name: "nodejs20.x without a handler", runtime: "nodejs20.x", want: "Handler"},
		{name: "nodejs22.x", runtime: "nodejs22.x", handler: "index.handler"},
		{name: "python3.12", runtime: "python3.12", handler: "app.handler", want: "provided.al2023, provided.al2, nodejs20.x and nodejs22.x"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := &lambda.CreateFunctionInput{FunctionName: aws.String("settings" + string(rune('a'+i))), Runtime: types.Runtime(tc.runtime),
				Role: aws.String(role), Code: &types.FunctionCode{ZipFile: code}}
			if tc.handler != "" {
				in.Handler = aws.String(tc.handler)
			}
			_, err := e.client.CreateFunction(context.Background(), in)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("CreateFunction: %v, want it created", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("CreateFunction: %v, want an error naming %q", err, tc.want)
			}
		})
	}
}

// TestZipDir: a directory is packaged as zip packs it — every file at its
// path relative to the directory, modes kept — and nothing else.
func TestZipDir(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"index.mjs": "export const handler = 1;", "lib/util.mjs": "export {};", "node_modules/x/index.js": "x"} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := lambdasvc.ZipDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := zipNames(t, b)
	want := []string{"index.mjs", "lib/util.mjs", "node_modules/x/index.js"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("zip holds %q, want %q", got, want)
	}
	if _, err := lambdasvc.ZipDir(filepath.Join(dir, "index.mjs")); err == nil {
		t.Error("ZipDir of a file: no error")
	}
}

func zipNames(t *testing.T, b []byte) []string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	return names
}
