package release

import (
	"encoding/json"
	"net/http"
	"slices"
	"sync"

	codebuildsvc "github.com/aliasflow/aliasflow/sandbox/codebuild"
	"github.com/aliasflow/aliasflow/sandbox/core"
	"github.com/aliasflow/aliasflow/sandbox/sandboxtest"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

var (
	_ Lambda            = (*lambda.Client)(nil)
	_ StepFunctions     = (*sfn.Client)(nil)
	_ Builds            = (*codebuild.Client)(nil)
	_ audit.EventPutter = (*eventbridge.Client)(nil)
)

// callLog records every AWS call the handler makes, in order.
type callLog struct {
	mu    sync.Mutex
	calls []string
}

func (c *callLog) add(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, op)
}

func (c *callLog) since(i int) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.calls[i:])
}

func (c *callLog) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.calls)
}

// mutatingOps are the calls that change something in Lambda or Step Functions.
var mutatingOps = map[string]bool{
	"PublishVersion": true, "UpdateAlias": true, "CreateAlias": true,
	"StopExecution": true, "StartExecution": true,
}

// throttled is the error a throttled CodeBuild call answers
// (ThrottlingException, a common error of AWS APIs: "The request was
// denied due to request throttling", Common Errors, AWS CodeBuild API
// Reference, https://docs.aws.amazon.com/codebuild/latest/APIReference/CommonErrors.html).
func throttled(op string) *core.APIError {
	return core.Errorf("ThrottlingException", http.StatusBadRequest, "%s: Rate exceeded", op)
}

// build runs a finished, successful build of project on the sandbox's
// CodeBuild, started by initiator and exporting vars, and returns its id.
func (w *world) build(project, initiator string, vars map[string]string) string {
	w.t.Helper()
	in := codebuildsvc.RunInput{Project: project, Initiator: initiator}
	for k, v := range vars {
		in.Exported = append(in.Exported, codebuildsvc.EnvironmentVariable{Name: k, Value: v})
	}
	b, _, err := w.builds.Service.RunBuild(in)
	if err != nil {
		w.t.Fatalf("RunBuild: %v", err)
	}
	return b.ID
}

// busEvents returns the audit event of each entry put on bus, in order.
func busEvents(bus *sandboxtest.Events) []string {
	details := bus.Details()
	out := make([]string, len(details))
	for i, d := range details {
		var rec struct {
			Event string `json:"event"`
		}
		if err := json.Unmarshal([]byte(d), &rec); err != nil {
			out[i] = "undecodable: " + d
			continue
		}
		out[i] = rec.Event
	}
	return out
}
