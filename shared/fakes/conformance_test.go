package fakes_test

// The fakes answer the conformance cases too, until the last test using
// them runs on the sandbox's services (sandboxtest) and they are deleted.

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aliasflow/aliasflow/sandbox/conformance"
	"github.com/aliasflow/aliasflow/shared/fakes/lambdafake"
	"github.com/aliasflow/aliasflow/shared/fakes/sfnfake"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

func serve(t *testing.T, h interface {
	ServeHTTP(w http.ResponseWriter, r *http.Request)
}) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

const sha = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="

func TestLambdaFake(t *testing.T) {
	conformance.RunLambda(t, func(t *testing.T) conformance.Lambda {
		f := lambdafake.New()
		f.AddFunction("conformance", sha, 3)
		return conformance.Lambda{Client: lambda.NewFromConfig(conformance.Config(serve(t, lambdafake.Handler(f)))), Function: "conformance", CodeSha256: sha}
	})
}

func TestStatesFake(t *testing.T) {
	conformance.RunStates(t, func(t *testing.T) conformance.States {
		f := sfnfake.New()
		arn := f.AddStateMachine("conformance")
		f.WaitOnStart(arn, "Ask")
		return conformance.States{Client: sfn.NewFromConfig(conformance.Config(serve(t, sfnfake.Handler(f)))), Machine: arn,
			Token: func(t *testing.T, exec string) string { return f.Token(exec) }}
	})
}
