package cli_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/cli"
	lambdasvc "github.com/aliasflow/aliasflow/sandbox/lambda"
	"github.com/aliasflow/aliasflow/sandbox/local"
	"github.com/aliasflow/aliasflow/shared/awsenv"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// TestReleaseWaitsForTheLambdasAnswer (issue 21, item 5): `release`
// against the sandbox, whose real release Lambda answers the request, waits
// for that answer in the trail: a function that is no target is refused —
// exit 7 naming the reason, so a CI job fails — and a new build of hello
// starts its promotion, named; a second request of the same build is
// answered with that promotion.
func TestReleaseWaitsForTheLambdasAnswer(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end against the sandbox")
	}
	bins := binDir(t)
	sandboxEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	w, err := local.Start(ctx, local.Options{BinDir: bins, WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	e := &e2e{t: t, w: w, dir: t.TempDir()}

	// stray exists in Lambda but is no target of the pipeline: the CLI
	// puts the request, the release Lambda refuses it.
	bin, err := os.ReadFile(e.deployBinary("stray", "Hello from nowhere"))
	if err != nil {
		t.Fatal(err)
	}
	zip, err := lambdasvc.ZipBootstrap(bin)
	if err != nil {
		t.Fatal(err)
	}
	lc := lambda.NewFromConfig(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(w.Endpoint()), HTTPClient: awsenv.LoopbackOnlyClient(),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
	if _, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("stray"), Runtime: lambdatypes.RuntimeProvidedal2023,
		Handler: aws.String("bootstrap"), Role: aws.String("arn:aws:iam::000000000000:role/stray"), Code: &lambdatypes.FunctionCode{ZipFile: zip}}); err != nil {
		t.Fatalf("create stray: %v", err)
	}
	sha := e.deploy("v2", "Hello from Lambda World")

	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     []string
	}{
		{name: "refused: no target", args: []string{"release", "stray"}, wantCode: cli.ExitReleaseRefused,
			want: []string{"release of stray requested", "refused: ", "stray"}},
		{name: "started", args: []string{"release", "hello", "--commit", "feedf00d"}, wantCode: cli.ExitOK,
			want: []string{"release of hello requested (code " + sha, "started hello-v2-"}},
		{name: "the same build again: its promotion", args: []string{"release", "hello"}, wantCode: cli.ExitOK,
			want: []string{"started hello-v2-", "already existed"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := e.run(tc.args...)
			if code != tc.wantCode {
				t.Fatalf("exit code = %d; want %d\nstdout:\n%s\nstderr:\n%s", code, tc.wantCode, out, errs)
			}
			wantContains(t, strings.Join(tc.args, " "), out+errs, tc.want...)
		})
	}

	// --json: the answer with the request.
	code, out, errs := e.run("release", "stray", "--json")
	if code != cli.ExitReleaseRefused {
		t.Fatalf("release stray --json: exit %d\n%s%s", code, out, errs)
	}
	var res cli.ReleaseResult
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Answer == nil {
		t.Fatalf("release --json = %s (%v); want the request with its answer", out, err)
	}
	if res.Answer.Outcome != cli.AnswerRefused || res.Answer.Reason == "" {
		t.Errorf("answer = %+v; want refused with its reason", *res.Answer)
	}
}

// deployBinary builds hello with greeting into the test's directory and
// returns the bootstrap's path.
func (e *e2e) deployBinary(name, greeting string) string {
	e.t.Helper()
	bin, err := cli.BuildHello(context.Background(), repoRoot(), e.dir, name, greeting, "0")
	if err != nil {
		e.t.Fatal(err)
	}
	return bin
}
