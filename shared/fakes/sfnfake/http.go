package sfnfake

import (
	"context"
	"io"
	"net/http"
	"strings"

	"github.com/aliasflow/aliasflow/shared/fakes/wire"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// Handler serves the fake over HTTP as Step Functions' awsJson1.0 API
// (X-Amz-Target: AWSStepFunctions.<Operation>), for the real SDK client.
func Handler(f *Fake) http.Handler {
	ops := map[string]func(ctx context.Context, body []byte) (any, error){
		"ListStateMachines":   call(f.ListStateMachines),
		"StartExecution":      call(f.StartExecution),
		"DescribeExecution":   call(f.DescribeExecution),
		"ListExecutions":      call(f.ListExecutions),
		"GetExecutionHistory": call(f.GetExecutionHistory),
		"StopExecution":       call(f.StopExecution),
		"SendTaskSuccess":     call(f.SendTaskSuccess),
		"SendTaskFailure":     call(f.SendTaskFailure),
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, _ := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "AWSStepFunctions.")
		status := func(string) int { return http.StatusBadRequest }
		op := ops[name]
		if op == nil {
			wire.WriteError(w, &types.ValidationException{Message: aws.String("sfnfake: operation " + name + " is not served")}, wire.AWSJSON, status)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		out, err := op(r.Context(), body)
		if err != nil {
			wire.WriteError(w, err, wire.AWSJSON, status)
			return
		}
		wire.Write(w, http.StatusOK, out, wire.AWSJSON)
	})
}

// call adapts an SDK-shaped method to the handler: decode, run.
func call[In, Out any](m func(context.Context, *In, ...func(*sfn.Options)) (*Out, error)) func(context.Context, []byte) (any, error) {
	return func(ctx context.Context, body []byte) (any, error) {
		in := new(In)
		if err := wire.Decode(body, in); err != nil {
			return nil, &types.ValidationException{Message: aws.String("malformed request body: " + err.Error())}
		}
		return m(ctx, in)
	}
}
