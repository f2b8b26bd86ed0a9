package local_test

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/aliasflow/aliasflow/shared/deploy"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/aliasflow/aliasflow/sandbox/core"
	lambdasvc "github.com/aliasflow/aliasflow/sandbox/lambda"
	"github.com/aliasflow/aliasflow/sandbox/lambda/lambdatest"
	"github.com/aliasflow/aliasflow/sandbox/local"
	"github.com/aliasflow/aliasflow/sandbox/quota"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/eventpatterns"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aliasflow/aliasflow/shared/settings"
)

// TestABurstOfReleasesLosesNone: releases put at once, with the sandbox
// enforcing AWS's request quotas and Lambda's control plane tightened to 2
// requests a second (AWS's is 15: "Lambda quotas"), are each released:
// every release starts its promotion exactly once and no delivery to the
// release Lambda ends failed. A throttled call is retried by the release
// Lambda's SDK clients and, still throttled, fails the invocation, which
// Lambda's asynchronous invocation retries twice ("How Lambda handles
// errors and retries with asynchronous invocation",
// https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html);
// it is never refused.
func TestABurstOfReleasesLosesNone(t *testing.T) {
	bin := binDir(t)
	hello, err := os.ReadFile(filepath.Join(bin, "hello", "bootstrap"))
	if err != nil {
		t.Skipf("hello is not built: %v", err)
	}
	const n = 12
	limits := quota.Default()
	for i := range limits {
		if limits[i].Name == "lambda control plane" {
			limits[i].Rate, limits[i].Burst = 2, 2
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	w, err := local.Start(ctx, local.Options{BinDir: bin, Quotas: limits})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = w.Close() })
	sb := w.Sandbox()
	lam := sb.Lambda()
	zip := func(fn, tag string) []byte {
		z, err := lambdasvc.ZipBootstrap(slices.Concat(hello, []byte("\nburst "+fn+" "+tag+"\n")))
		if err != nil {
			t.Fatal(err)
		}
		return z
	}
	settle := func(fn string) {
		t.Helper()
		for {
			c, err := lam.GetFunctionConfiguration(fn, "")
			if err != nil {
				t.Fatalf("%s: %v", fn, err)
			}
			if c.State == "Active" && c.LastUpdateStatus == "Successful" {
				return
			}
			if ctx.Err() != nil {
				t.Fatalf("%s did not settle: %v", fn, ctx.Err())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	fns, shas := make([]string, n), make([]string, n)
	timeout := 10
	for i := range fns {
		fn := fmt.Sprintf("burst%02d", i+1)
		fns[i] = fn
		if _, err := lam.CreateFunction(lambdasvc.CreateFunctionInput{FunctionName: fn, Runtime: "provided.al2023", Handler: "bootstrap",
			Role: "arn:aws:iam::" + core.Account + ":role/burst", Code: lambdasvc.FunctionCode{ZipFile: zip(fn, "v1")}, Timeout: &timeout,
			// Tagged as the target construct tags a target: the release
			// role acts on the pipeline's functions only.
			Tags: map[string]string{local.PipelineTag: local.PipelineName}}); err != nil {
			t.Fatalf("create %s: %v", fn, err)
		}
		settle(fn)
		v, err := lam.PublishVersion(fn, lambdasvc.PublishVersionInput{Description: "v1"})
		if err != nil {
			t.Fatalf("publish %s: %v", fn, err)
		}
		for _, alias := range []string{promotion.AliasStg, promotion.AliasProd} {
			if _, err := lam.CreateAlias(fn, lambdasvc.CreateAliasInput{Name: alias, FunctionVersion: v.Version}); err != nil {
				t.Fatalf("alias %s:%s: %v", fn, alias, err)
			}
		}
		target := config.Target{Function: fn, Approvers: []string{local.DefaultApprover}, Strategy: config.StrategyConfig{Type: config.AllAtOnce}}
		target.ApplyDefaults()
		doc, err := settings.Encode(target)
		if err == nil {
			_, err = sb.SSM().PutParameter(settings.ParameterName(settings.DefaultPipeline, fn), doc, true)
		}
		if err != nil {
			t.Fatalf("settings of %s: %v", fn, err)
		}
		out, err := lam.UpdateFunctionCode(fn, lambdasvc.UpdateFunctionCodeInput{ZipFile: zip(fn, "v2")})
		if err != nil {
			t.Fatalf("update %s: %v", fn, err)
		}
		shas[i] = out.CodeSha256
		settle(fn)
	}

	// The burst: every release at once.
	for i, fn := range fns {
		detail, _ := json.Marshal(map[string]string{"function": fn, "codeSha256": shas[i], "commit": fmt.Sprintf("b%06d", i), "requestedBy": "developer@example.com"})
		if _, err := sb.Events().PutBusEvent(deploy.ReleaseEventBus, eventpatterns.ReleaseSource, eventpatterns.ReleaseDetailType, string(detail), nil); err != nil {
			t.Fatalf("put the release of %s: %v", fn, err)
		}
	}

	// Each release's delivery ends (delivered, or given up after Lambda's
	// attempts); then every function has exactly one promotion.
	var failed []string
	for {
		ended := 0
		failed = failed[:0]
		for _, d := range sb.Events().Deliveries() {
			if !isRelease(d.Arn) {
				continue
			}
			ended++
			if d.Err != "" {
				failed = append(failed, d.Err)
			}
		}
		if ended >= n {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("%d of %d release deliveries ended: %v", ended, n, ctx.Err())
		}
		time.Sleep(500 * time.Millisecond)
	}
	if len(failed) > 0 {
		t.Errorf("release deliveries that failed: %q", failed)
	}
	sc := sfn.NewFromConfig(lambdatest.Config(), func(o *sfn.Options) { o.BaseEndpoint = aws.String(w.Endpoint()) })
	started := map[string]int{}
	p := sfn.NewListExecutionsPaginator(sc, &sfn.ListExecutionsInput{StateMachineArn: aws.String(w.StateMachineARN())})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("list executions: %v", err)
		}
		for _, e := range page.Executions {
			ref, _ := promotion.ParseExecutionName(aws.ToString(e.Name))
			started[ref.Function]++
		}
	}
	for _, fn := range fns {
		if got := started[fn]; got != 1 {
			t.Errorf("promotions of %s = %d, want 1", fn, got)
		}
	}
}

func isRelease(arn string) bool { return arn == core.FunctionARN(local.ReleaseFunction, "") }
