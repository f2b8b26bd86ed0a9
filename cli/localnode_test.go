package cli_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/cli"
	"github.com/aliasflow/aliasflow/sandbox/lambda/lambdatest"
	"github.com/aliasflow/aliasflow/shared/awsenv"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// signalOn is a writer that closes ready once what was written contains
// marker.
type signalOn struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	marker string
	ready  chan struct{}
	once   sync.Once
}

func (s *signalOn) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.buf.Write(p)
	if strings.Contains(s.buf.String(), s.marker) {
		s.once.Do(func() { close(s.ready) })
	}
	return n, err
}

func (s *signalOn) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// TestLocalRunsANodeWorld (issue 23): `aliasflow local --runtime
// nodejs20.x` stands up the world of a Node.js team — hello runs
// examples/hello-node on nodejs20.x, its settings read the Node.js
// runtime's error lines — and says how to rehearse Node.js code; a runtime
// the sandbox does not run is refused before anything starts.
func TestLocalRunsANodeWorld(t *testing.T) {
	code, out, errs := newWorld(t).run(t, "local", "--runtime", "python3.12")
	wantCode(t, code, cli.ExitUsage, out, errs)
	wantContains(t, "local --runtime python3.12", errs, `--runtime "python3.12"`, "nodejs20.x")
	if testing.Short() {
		return
	}
	requireNodeRuntime(t)
	bins := binDir(t)
	sandboxEnv(t)
	t.Chdir(repoRoot()) // where an operator runs it: ./examples/hello-node is there
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout := &signalOn{marker: "Ctrl-C stops it", ready: make(chan struct{})}
	var errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- cli.Main(ctx, []string{"local", "--addr", "127.0.0.1:0", "--bin-dir", bins, "--runtime", "nodejs20.x"},
			cli.Env{Stdout: stdout, Stderr: &errb})
	}()
	select {
	case <-stdout.ready:
	case code := <-done:
		t.Fatalf("aliasflow local ended with %d:\n%s\n%s", code, stdout.String(), errb.String())
	case <-time.After(2 * time.Minute):
		t.Fatalf("aliasflow local did not start:\n%s", stdout.String())
	}
	wantContains(t, "local --runtime nodejs20.x", stdout.String(), "hello runs examples/hello-node on nodejs20.x",
		"aliasflow local deploy-code hello ./examples/hello-node")
	ep := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`).FindStringSubmatch(stdout.String())
	if ep == nil {
		t.Fatalf("no endpoint in:\n%s", stdout.String())
	}
	client := &http.Client{Transport: awsenv.LoopbackOnlyClient().GetTransport(), Timeout: 30 * time.Second}
	resp, err := client.Get(ep[1] + "/production/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"message":"Hello from Lambda"`) {
		t.Errorf("GET /production/ = %d %s, want 200 from hello-node", resp.StatusCode, body)
	}
	lam := lambda.NewFromConfig(lambdatest.Config(), func(o *lambda.Options) { o.BaseEndpoint = aws.String(ep[1]) })
	for _, q := range []string{"1", "$LATEST"} {
		cfg, err := lam.GetFunctionConfiguration(context.Background(), &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("hello"), Qualifier: aws.String(q)})
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Runtime != "nodejs20.x" || aws.ToString(cfg.Handler) != "index.handler" {
			t.Errorf("hello:%s runs %s with handler %s, want nodejs20.x with index.handler", q, cfg.Runtime, aws.ToString(cfg.Handler))
		}
	}
	cancel()
	select {
	case code := <-done:
		wantCode(t, code, cli.ExitOK, stdout.String(), errb.String())
	case <-time.After(time.Minute):
		t.Fatal("aliasflow local did not stop")
	}
}
