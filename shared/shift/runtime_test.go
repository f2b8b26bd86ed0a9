package shift

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

// TestRuntimeErrorLineOfAWSLambdaGo runs a real aws-lambda-go handler
// against a loopback Runtime API (the API's documented paths: GET
// /2018-06-01/runtime/invocation/next, POST …/{id}/error) and reads the
// lines it writes to stderr — which Lambda sends to the function's log
// stream — for a returned error and for a panic: each is recognised as
// the runtime's handled-error line, and nothing else it writes is.
func TestRuntimeErrorLineOfAWSLambdaGo(t *testing.T) {
	if os.Getenv("ALIASFLOW_TEST_GO_HANDLER") == "1" {
		lambda.Start(func(_ context.Context, in string) (string, error) {
			if in == "panic" {
				panic("kaboom")
			}
			return "", errors.New("boom")
		})
		return
	}
	var (
		mu     sync.Mutex
		served int
		posted []string
	)
	payloads := []string{`"error"`, `"panic"`}
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/2018-06-01/runtime/invocation/next":
			mu.Lock()
			i := served
			served++
			mu.Unlock()
			if i >= len(payloads) {
				<-done // no more invocations: hold the runtime until the test ends
				return
			}
			w.Header().Set("Lambda-Runtime-Aws-Request-Id", fmt.Sprintf("req-%d", i))
			w.Header().Set("Lambda-Runtime-Deadline-Ms", fmt.Sprint(time.Now().Add(time.Minute).UnixMilli()))
			w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:000000000000:function:hello:prod")
			_, _ = io.WriteString(w, payloads[i])
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/error"):
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			posted = append(posted, string(b))
			mu.Unlock()
			w.WriteHeader(http.StatusAccepted)
		default:
			w.WriteHeader(http.StatusAccepted)
		}
	}))
	defer srv.Close()
	defer close(done)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestRuntimeErrorLineOfAWSLambdaGo$")
	cmd.Env = append(os.Environ(), "ALIASFLOW_TEST_GO_HANDLER=1",
		"AWS_LAMBDA_RUNTIME_API="+strings.TrimPrefix(srv.URL, "http://"))
	var stderr bytes.Buffer
	cmd.Stderr, cmd.Stdout = &stderr, io.Discard
	// The panic ends the runtime (aws-lambda-go exits after reporting it).
	_ = cmd.Run()

	var errorLines, others []string
	sc := bufio.NewScanner(&stderr)
	for sc.Scan() {
		if runtimeErrorLine(sc.Text()) {
			errorLines = append(errorLines, sc.Text())
		} else if strings.TrimSpace(sc.Text()) != "" {
			others = append(others, sc.Text())
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(posted) != 2 {
		t.Fatalf("the runtime posted %d errors, want 2 (stderr %q)", len(posted), stderr.String())
	}
	if len(errorLines) != 2 {
		t.Fatalf("%d lines read as handled-error lines, want 2: %q (other lines %q)", len(errorLines), errorLines, others)
	}
	for i, want := range []string{`{"errorMessage":"boom","errorType":"errorString"}`, `"errorMessage":"kaboom"`} {
		if !strings.Contains(errorLines[i], want) {
			t.Errorf("error line %d = %q, want it to contain %s", i, errorLines[i], want)
		}
	}
	if !strings.Contains(errorLines[1], `"stackTrace"`) {
		t.Errorf("panic line %q lacks its stackTrace", errorLines[1])
	}
	t.Logf("aws-lambda-go wrote: %q", errorLines)
}
