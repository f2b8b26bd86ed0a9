package release

import (
	"context"
	"encoding/json"
	"slices"
	"sync"

	"github.com/aliasflow/aliasflow/sandbox/sandboxtest"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	cbtypes "github.com/aws/aws-sdk-go-v2/service/codebuild/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

var (
	_ Lambda            = (*lambda.Client)(nil)
	_ StepFunctions     = (*sfn.Client)(nil)
	_ Builds            = (*fakeBuilds)(nil)
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

// faults holds errors to answer instead of doing an operation, in order.
type faults map[string][]error

func (f faults) next(op string) error {
	errs := f[op]
	if len(errs) == 0 {
		return nil
	}
	f[op] = errs[1:]
	return errs[0]
}

func throttled(op string) error {
	return &lambdatypes.TooManyRequestsException{Message: aws.String(op + ": Rate exceeded")}
}

// fakeBuilds is CodeBuild's record of builds and what they exported.
type fakeBuilds struct {
	calls  *callLog
	builds map[string]map[string]string
	// initiator is every build's Build.initiator.
	initiator string
	asked     [][]string
	fail      faults
}

func (f *fakeBuilds) BatchGetBuilds(_ context.Context, in *codebuild.BatchGetBuildsInput, _ ...func(*codebuild.Options)) (*codebuild.BatchGetBuildsOutput, error) {
	f.calls.add("BatchGetBuilds")
	f.asked = append(f.asked, in.Ids)
	if err := f.fail.next("BatchGetBuilds"); err != nil {
		return nil, err
	}
	out := &codebuild.BatchGetBuildsOutput{}
	for _, id := range in.Ids {
		vars, ok := f.builds[id]
		if !ok {
			out.BuildsNotFound = append(out.BuildsNotFound, id)
			continue
		}
		b := cbtypes.Build{Id: aws.String(id), BuildStatus: cbtypes.StatusTypeSucceeded}
		if f.initiator != "" {
			b.Initiator = aws.String(f.initiator)
		}
		for k, v := range vars {
			b.ExportedEnvironmentVariables = append(b.ExportedEnvironmentVariables, cbtypes.ExportedEnvironmentVariable{Name: aws.String(k), Value: aws.String(v)})
		}
		out.Builds = append(out.Builds, b)
	}
	return out, nil
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
