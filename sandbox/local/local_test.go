package local_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/aliasflow/aliasflow/sandbox/lambda/lambdatest"
	"github.com/aliasflow/aliasflow/sandbox/local"
)

// binDir finds the Lambdas built for this machine: ALIASFLOW_BIN_DIR (set
// by the Makefile), else the repository's dist/local.
func binDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("ALIASFLOW_BIN_DIR"); d != "" {
		return d
	}
	_, file, _, _ := runtime.Caller(0)
	d := filepath.Join(filepath.Dir(file), "..", "..", "dist", "local")
	if _, err := os.Stat(filepath.Join(d, "release", "bootstrap")); err != nil {
		t.Skipf("the Lambdas built for this machine are missing: run `make build-local` or set ALIASFLOW_BIN_DIR (looked in %s)", d)
	}
	return d
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestWorldServesHelloAndRunsARelease(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w, err := local.Start(ctx, local.Options{BinDir: binDir(t), EventRetryDelays: []time.Duration{}})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = w.Close() })

	for _, stage := range []string{"dev", "staging", "production"} {
		status, body := get(t, w.StageURL(stage))
		if status != 200 || !strings.Contains(body, `"message":"Hello from Lambda"`) || !strings.Contains(body, `"stage":"`+stage+`"`) {
			t.Errorf("GET /%s/ = %d %s", stage, status, body)
		}
	}
	// hello's API, as the CDK app defines it, has one method: GET on the
	// root resource. Any other resource or method is API Gateway's 403
	// Missing Authentication Token ("Gateway response types for API
	// Gateway", MISSING_AUTHENTICATION_TOKEN,
	// https://docs.aws.amazon.com/apigateway/latest/developerguide/supported-gateway-response-types.html).
	for _, c := range []struct{ method, path string }{{"GET", "/staging/hello"}, {"POST", "/staging/"}, {"POST", "/" + local.ApprovalStage + "/decide"}} {
		req, _ := http.NewRequest(c.method, w.Endpoint()+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 403 || strings.TrimSpace(string(body)) != `{"message":"Missing Authentication Token"}` {
			t.Errorf("%s %s = %d %s, want 403 Missing Authentication Token", c.method, c.path, resp.StatusCode, body)
		}
	}

	cfg := lambdatest.Config()
	lc := lambda.NewFromConfig(cfg, func(o *lambda.Options) { o.BaseEndpoint = aws.String(w.Endpoint()) })
	fns, err := lc.ListFunctions(ctx, &lambda.ListFunctionsInput{})
	if err != nil {
		t.Fatalf("ListFunctions: %v", err)
	}
	var names []string
	for _, f := range fns.Functions {
		names = append(names, aws.ToString(f.FunctionName))
	}
	if got := strings.Join(names, ","); got != "aliasflow-approval,aliasflow-reconcile,aliasflow-release,aliasflow-shift,aliasflow-smoketest,hello" {
		t.Errorf("functions = %s", got)
	}

	// The approver's e-mail subscription awaits confirmation, as on AWS,
	// until the link SNS mailed is followed.
	if p := w.Sandbox().SNS().PendingConfirmations(); len(p) != 1 || p[0].Endpoint != local.DefaultApprover {
		t.Fatalf("pending confirmations = %+v, want the approver's", p)
	}
	confirmed, err := w.ConfirmSubscriptions(ctx)
	if err != nil || len(confirmed) != 1 || confirmed[0] != local.DefaultApprover {
		t.Fatalf("ConfirmSubscriptions = %v, %v; want [%s]", confirmed, err, local.DefaultApprover)
	}
	if p := w.Sandbox().SNS().PendingConfirmations(); len(p) != 0 {
		t.Errorf("pending confirmations after confirming = %+v", p)
	}

	// A merge of new code runs release → smoke tests → approval request.
	v2 := lambdatest.Build(t, "github.com/aliasflow/aliasflow/examples/hello", "-ldflags=-X 'main.greeting=Hello from Lambda World'")
	sha, err := w.DeployHello(ctx, v2)
	if err != nil {
		t.Fatalf("DeployHello: %v", err)
	}
	if err := w.Merge(ctx, sha, "abc1234"); err != nil {
		t.Fatalf("Merge: %v", err)
	}
	mail, _, err := w.WaitEmail(ctx, 0, local.DefaultApprover)
	if err != nil {
		sc := sfn.NewFromConfig(cfg, func(o *sfn.Options) { o.BaseEndpoint = aws.String(w.Endpoint()) })
		ex, _ := sc.ListExecutions(context.Background(), &sfn.ListExecutionsInput{StateMachineArn: aws.String(w.StateMachineARN())})
		var ended []string
		if ex != nil {
			for _, e := range ex.Executions {
				d, _ := sc.DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{ExecutionArn: e.ExecutionArn})
				if d != nil {
					ended = append(ended, fmt.Sprintf("%s %s %s: %s", aws.ToString(d.Name), d.Status, aws.ToString(d.Error), aws.ToString(d.Cause)))
				}
			}
		}
		t.Fatalf("no approval e-mail: %v (executions: %q; deliveries: %+v)", err, ended, w.Sandbox().Events().Deliveries())
	}
	if !strings.Contains(mail.Body, w.ApprovalURL()) {
		t.Errorf("approval e-mail does not link to %s:\n%s", w.ApprovalURL(), mail.Body)
	}
	stg, err := lc.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String("hello"), Name: aws.String("stg")})
	if err != nil || aws.ToString(stg.FunctionVersion) != "2" {
		t.Errorf("stg after the release = %v (%v), want version 2", aws.ToString(stg.FunctionVersion), err)
	}
	if status, body := get(t, w.StageURL("staging")); !strings.Contains(body, "Hello from Lambda World") {
		t.Errorf("staging after the release = %d %s, want the new greeting", status, body)
	}
	if _, body := get(t, w.StageURL("production")); strings.Contains(body, "World") {
		t.Errorf("production changed before approval: %s", body)
	}
}

func TestWorldRefusesMissingBinaries(t *testing.T) {
	_, err := local.Start(context.Background(), local.Options{BinDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "make build-local") {
		t.Errorf("Start with an empty BinDir = %v, want an error saying to run make build-local", err)
	}
}

func TestWorldResumesFromStateDir(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bin, stateDir := binDir(t), t.TempDir()
	w, err := local.Start(ctx, local.Options{BinDir: bin, StateDir: stateDir})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	endpoint := w.Endpoint()
	if _, err := w.ConfirmSubscriptions(ctx); err != nil {
		t.Fatal(err)
	}
	key, err := w.Sandbox().Secrets().SecretString(local.LinkSecretName)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	w2, err := local.Start(ctx, local.Options{BinDir: bin, StateDir: stateDir})
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	t.Cleanup(func() { _ = w2.Close() })
	if w2.Endpoint() != endpoint {
		t.Errorf("restarted at %s, want the recorded %s", w2.Endpoint(), endpoint)
	}
	if p := w2.Sandbox().SNS().PendingConfirmations(); len(p) != 0 {
		t.Errorf("after the restart, subscriptions await confirmation again: %+v", p)
	}
	if key2, _ := w2.Sandbox().Secrets().SecretString(local.LinkSecretName); key2 != key {
		t.Errorf("the link key changed across the restart")
	}
	a, err := w2.Sandbox().Lambda().GetAlias("hello", "prod")
	if err != nil || a.FunctionVersion != "1" {
		t.Errorf("prod after restart = %+v, %v; want version 1", a, err)
	}
	if status, body := get(t, w2.StageURL("production")); status != 200 || !strings.Contains(body, "Hello from Lambda") {
		t.Errorf("production after restart = %d %s", status, body)
	}
}
