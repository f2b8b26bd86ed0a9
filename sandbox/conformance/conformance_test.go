package conformance_test

// Every conformance case runs against the sandbox's services, the one
// stand-in per AWS API the project's tests use, served as the sandbox
// serves them (SigV4-scoped, through the real SDK clients).

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"testing"

	"github.com/aliasflow/aliasflow/sandbox/conformance"
	"github.com/aliasflow/aliasflow/sandbox/core"
	"github.com/aliasflow/aliasflow/sandbox/internal/servicetest"
	lambdasvc "github.com/aliasflow/aliasflow/sandbox/lambda"
	"github.com/aliasflow/aliasflow/sandbox/states"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

// deploymentPackage is a zip holding a bootstrap that says n: the sandbox
// stores code by hash, so each n is another deployment.
func deploymentPackage(t *testing.T, n int) []byte {
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	fw, err := w.Create("bootstrap")
	if err == nil {
		_, err = fw.Write([]byte("#!/bin/sh\necho " + strconv.Itoa(n) + "\n"))
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestLambdaSandbox(t *testing.T) {
	conformance.RunLambda(t, func(t *testing.T) conformance.Lambda {
		svc, err := lambdasvc.New(lambdasvc.Options{WorkDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(svc.Close)
		c := lambda.NewFromConfig(servicetest.Config(t, "lambda", svc))
		ctx := t.Context()
		fn := aws.String("conformance")
		out, err := c.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: fn, Runtime: ltypes.RuntimeProvidedal2023, Handler: aws.String("bootstrap"),
			Role: aws.String("arn:aws:iam::000000000000:role/conformance"), Code: &ltypes.FunctionCode{ZipFile: deploymentPackage(t, 1)}})
		if err != nil {
			t.Fatalf("CreateFunction: %v", err)
		}
		code := aws.ToString(out.CodeSha256)
		for n := 1; n <= 3; n++ {
			if n > 1 {
				u, err := c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: fn, ZipFile: deploymentPackage(t, n)})
				if err != nil {
					t.Fatalf("UpdateFunctionCode: %v", err)
				}
				code = aws.ToString(u.CodeSha256)
			}
			if _, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: fn}); err != nil {
				t.Fatalf("PublishVersion: %v", err)
			}
		}
		return conformance.Lambda{Client: c, Function: "conformance", CodeSha256: code}
	})
}

// tokens is a Lambda for the sandbox's state machine: the callback task's
// invoke hands it the task token, which it keeps by execution.
type tokens struct {
	mu sync.Mutex
	by map[string]string
}

func (k *tokens) Invoke(_ context.Context, _, _ string, payload []byte) (core.InvokeResult, error) {
	var p struct{ Token, Execution string }
	_ = json.Unmarshal(payload, &p)
	k.mu.Lock()
	k.by[p.Execution] = p.Token
	k.mu.Unlock()
	return core.InvokeResult{Payload: []byte(`{}`), ExecutedVersion: "$LATEST"}, nil
}

func (k *tokens) get(t *testing.T, exec string) string {
	for range 2000 {
		k.mu.Lock()
		tok := k.by[exec]
		k.mu.Unlock()
		if tok != "" {
			return tok
		}
		conformance.Pause()
	}
	t.Fatalf("execution %s never invoked its callback task", exec)
	return ""
}

// waitDefinition is one callback task, as the States contract asks.
const waitDefinition = `{"StartAt":"Ask","States":{"Ask":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken",
"Parameters":{"FunctionName":"conformance","Payload":{"Token.$":"$$.Task.Token","Execution.$":"$$.Execution.Id"}},"End":true}}}`

func TestStatesSandbox(t *testing.T) {
	conformance.RunStates(t, func(t *testing.T) conformance.States {
		k := &tokens{by: map[string]string{}}
		svc := states.New(k, nil)
		t.Cleanup(svc.Close)
		c := sfn.NewFromConfig(servicetest.Config(t, "states", svc))
		// The sandbox creates state machines through its Go API (the project
		// creates its own with CloudFormation, never through the API).
		machine, err := svc.CreateStateMachine("conformance", waitDefinition, "arn:aws:iam::000000000000:role/conformance")
		if err != nil {
			t.Fatalf("CreateStateMachine: %v", err)
		}
		return conformance.States{Client: c, Machine: machine, Token: k.get}
	})
}
