package sandbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/aliasflow/aliasflow/sandbox"
	"github.com/aliasflow/aliasflow/sandbox/apigw"
	lambdasvc "github.com/aliasflow/aliasflow/sandbox/lambda"
	"github.com/aliasflow/aliasflow/sandbox/lambda/lambdatest"
)

func start(t *testing.T, opts sandbox.Options) *sandbox.Sandbox {
	t.Helper()
	sb, err := sandbox.Start(context.Background(), opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	return sb
}

func TestStartRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:8080", "example.com:80"} {
		t.Run(addr, func(t *testing.T) {
			sb, err := sandbox.Start(context.Background(), sandbox.Options{Addr: addr})
			if err == nil {
				sb.Close()
				t.Fatalf("Start(%q) succeeded, want a refusal", addr)
			}
			if !strings.Contains(err.Error(), "loopback") && !strings.Contains(err.Error(), "listen address") {
				t.Errorf("error %v does not say why", err)
			}
		})
	}
}

func TestDispatchByCredentialScope(t *testing.T) {
	sb := start(t, sandbox.Options{})
	cfg := lambdatest.Config()
	ctx := context.Background()
	ep := aws.String(sb.Endpoint())

	if _, err := sb.Secrets().CreateSecret("aliasflow/link-key", "k"); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		service string
		call    func() error
	}{
		{"lambda", func() error {
			_, err := lambda.NewFromConfig(cfg, func(o *lambda.Options) { o.BaseEndpoint = ep }).ListFunctions(ctx, &lambda.ListFunctionsInput{})
			return err
		}},
		{"states", func() error {
			_, err := sfn.NewFromConfig(cfg, func(o *sfn.Options) { o.BaseEndpoint = ep }).ListStateMachines(ctx, &sfn.ListStateMachinesInput{})
			return err
		}},
		{"sts", func() error {
			out, err := sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = ep }).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			if err == nil && aws.ToString(out.Account) != "000000000000" {
				return errors.New("wrong account " + aws.ToString(out.Account))
			}
			return err
		}},
		{"secretsmanager", func() error {
			out, err := secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { o.BaseEndpoint = ep }).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("aliasflow/link-key")})
			if err == nil && aws.ToString(out.SecretString) != "k" {
				return errors.New("wrong secret")
			}
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.service, func(t *testing.T) {
			if err := tc.call(); err != nil {
				t.Errorf("%s call through the dispatcher: %v", tc.service, err)
			}
		})
	}

	// A Lambda error keeps its type through the dispatcher.
	_, err := lambda.NewFromConfig(cfg, func(o *lambda.Options) { o.BaseEndpoint = ep }).GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("missing")})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("GetFunction of a missing function = %v, want ResourceNotFoundException", err)
	}
}

func TestUnsignedRequests(t *testing.T) {
	sb := start(t, sandbox.Options{})
	if err := sb.APIGateway().PutAPI(apigw.API{ID: "hello", Methods: []apigw.Method{{HTTPMethod: "GET", Path: "/"}}}); err != nil {
		t.Fatal(err)
	}
	if err := sb.APIGateway().PutStage(apigw.Stage{Name: "production", Variables: map[string]string{"lambdaAlias": "prod"}, Target: "hello:${stageVariables.lambdaAlias}", API: "hello"}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, method, path string
		header             map[string]string
		wantStatus         int
		wantBody           string
	}{
		{"unsigned Lambda call", "GET", "/2015-03-31/functions", nil, 403, "MissingAuthenticationToken"},
		{"unsigned awsJson call", "POST", "/", map[string]string{"X-Amz-Target": "AWSStepFunctions.ListStateMachines"}, 403, "MissingAuthenticationToken"},
		{"unknown path", "GET", "/nowhere", nil, 404, "Not Found"},
		{"stage whose function is missing", "GET", "/production/", nil, 500, "Internal server error"},
		{"resource the stage's API does not define", "GET", "/production/hello", nil, 403, "Missing Authentication Token"},
		{"unknown service", "GET", "/", map[string]string{"Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20261121/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=x"}, 400, "s3"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, sb.Endpoint()+tc.path, nil)
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.wantStatus || !strings.Contains(string(body), tc.wantBody) {
				t.Errorf("got %d %s, want %d containing %q", resp.StatusCode, body, tc.wantStatus, tc.wantBody)
			}
		})
	}
}

func TestStateSurvivesRestart(t *testing.T) {
	stateDir := t.TempDir()
	zip := lambdatest.Zip(t, lambdatest.Build(t, "github.com/aliasflow/aliasflow/examples/hello"))
	ctx := context.Background()

	sb, err := sandbox.Start(ctx, sandbox.Options{StateDir: stateDir, LambdaUpdateDuration: -1})
	if err != nil {
		t.Fatal(err)
	}
	lam := sb.Lambda()
	if _, err := lam.CreateFunction(lambdasvc.CreateFunctionInput{FunctionName: "hello", Runtime: "provided.al2023", Role: "arn:aws:iam::000000000000:role/r", Code: lambdasvc.FunctionCode{ZipFile: zip}}); err != nil {
		t.Fatal(err)
	}
	if _, err := lam.PublishVersion("hello", lambdasvc.PublishVersionInput{}); err != nil {
		t.Fatal(err)
	}
	if _, err := lam.CreateAlias("hello", lambdasvc.CreateAliasInput{Name: "prod", FunctionVersion: "1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Secrets().CreateSecret("aliasflow/link-key", "key-1"); err != nil {
		t.Fatal(err)
	}
	if err := sb.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	sb2 := start(t, sandbox.Options{StateDir: stateDir})
	client := lambda.NewFromConfig(lambdatest.Config(), func(o *lambda.Options) { o.BaseEndpoint = aws.String(sb2.Endpoint()) })
	a, err := client.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String("hello"), Name: aws.String("prod")})
	if err != nil || aws.ToString(a.FunctionVersion) != "1" {
		t.Fatalf("alias after restart = %v, %v; want prod -> 1", a, err)
	}
	out, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hello:prod")})
	if err != nil || out.FunctionError != nil {
		t.Fatalf("invoke after restart: %v", err)
	}
	var resp struct{ Body string }
	_ = json.Unmarshal(out.Payload, &resp)
	if !strings.Contains(resp.Body, "Hello from Lambda") {
		t.Errorf("hello after restart answered %s", out.Payload)
	}
	if v, err := sb2.Secrets().SecretString("aliasflow/link-key"); err != nil || v != "key-1" {
		t.Errorf("secret after restart = %q, %v", v, err)
	}
	var apiErr smithy.APIError
	_, err = client.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("hello"), CodeSha256: aws.String("AAAA")})
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidParameterValueException" {
		t.Errorf("PublishVersion with a wrong sha after restart = %v", err)
	}
}
