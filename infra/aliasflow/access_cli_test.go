package aliasflow_test

import (
	"bytes"
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/aliasflow/aliasflow/cli"
	"github.com/aliasflow/aliasflow/cli/clitest"
	"github.com/aliasflow/aliasflow/infra/aliasflow"
	"github.com/aliasflow/aliasflow/sandbox/sandboxtest"
	"github.com/aliasflow/aliasflow/shared/promotion"
)

// recorder wraps the CLI's clients and records the IAM action of every call.
type recorder struct{ actions map[string]bool }

func (r *recorder) rec(a string) { r.actions[a] = true }

type recStates struct {
	cli.StatesAPI
	r *recorder
}

func (s recStates) ListStateMachines(ctx context.Context, in *sfn.ListStateMachinesInput, o ...func(*sfn.Options)) (*sfn.ListStateMachinesOutput, error) {
	s.r.rec("states:ListStateMachines")
	return s.StatesAPI.ListStateMachines(ctx, in, o...)
}
func (s recStates) ListExecutions(ctx context.Context, in *sfn.ListExecutionsInput, o ...func(*sfn.Options)) (*sfn.ListExecutionsOutput, error) {
	s.r.rec("states:ListExecutions")
	return s.StatesAPI.ListExecutions(ctx, in, o...)
}
func (s recStates) DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, o ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	s.r.rec("states:DescribeExecution")
	return s.StatesAPI.DescribeExecution(ctx, in, o...)
}
func (s recStates) GetExecutionHistory(ctx context.Context, in *sfn.GetExecutionHistoryInput, o ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error) {
	s.r.rec("states:GetExecutionHistory")
	return s.StatesAPI.GetExecutionHistory(ctx, in, o...)
}

// recApprovals records the approval API calls (execute-api:Invoke on the
// IAM-authorized methods) and answers them as clitest.Approvals does.
type recApprovals struct {
	*clitest.Approvals
	r *recorder
}

func (a recApprovals) Invoke(ctx context.Context, url string, body []byte) (int, []byte, error) {
	a.r.rec("execute-api:Invoke")
	return a.Approvals.Invoke(ctx, url, body)
}

type recLambda struct {
	cli.LambdaAPI
	r *recorder
}

func (l recLambda) ListAliases(ctx context.Context, in *lambda.ListAliasesInput, o ...func(*lambda.Options)) (*lambda.ListAliasesOutput, error) {
	l.r.rec("lambda:ListAliases")
	return l.LambdaAPI.ListAliases(ctx, in, o...)
}
func (l recLambda) ListVersionsByFunction(ctx context.Context, in *lambda.ListVersionsByFunctionInput, o ...func(*lambda.Options)) (*lambda.ListVersionsByFunctionOutput, error) {
	l.r.rec("lambda:ListVersionsByFunction")
	return l.LambdaAPI.ListVersionsByFunction(ctx, in, o...)
}
func (l recLambda) GetFunctionConfiguration(ctx context.Context, in *lambda.GetFunctionConfigurationInput, o ...func(*lambda.Options)) (*lambda.GetFunctionConfigurationOutput, error) {
	l.r.rec("lambda:GetFunctionConfiguration")
	return l.LambdaAPI.GetFunctionConfiguration(ctx, in, o...)
}

type recLogs struct {
	cli.LogsAPI
	r *recorder
}

func (l recLogs) FilterLogEvents(ctx context.Context, in *cloudwatchlogs.FilterLogEventsInput, o ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error) {
	l.r.rec("logs:FilterLogEvents")
	return l.LogsAPI.FilterLogEvents(ctx, in, o...)
}

type recEvents struct {
	cli.EventsAPI
	r *recorder
}

func (e recEvents) PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, o ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	e.r.rec("events:PutEvents")
	return e.EventsAPI.PutEvents(ctx, in, o...)
}

func TestApproversPolicyAllowsWhatApproveAndRejectCall(t *testing.T) {
	// GIVEN promotions of hello waiting for approval, WHEN `aliasflow
	// approve` and `reject` run through the real CLI (against its fakes,
	// recording every AWS call), THEN they succeed and each call they made
	// is allowed by aliasflow-approvers.
	_, tmpl := accessStack(t)
	allowed := actionsOf(documentStatements(t, tmpl, "AWS::IAM::ManagedPolicy", "ManagedPolicyName", aliasflow.ApproversPolicyName))
	r := &recorder{actions: map[string]bool{}}
	states := sandboxtest.NewPromotion(t)
	fns := sandboxtest.NewLambda(t)
	fns.AddFunction(t, "hello", 1)
	clients := &cli.Clients{
		States: recStates{states.SFN, r}, Lambda: recLambda{fns.Client, r}, Logs: recLogs{clitest.NewLogs(aliasflow.PipelineLogGroupName), r},
		Events: recEvents{clitest.NewEvents(t).Client, r}, Identity: clitest.Identity(t),
		Approvals: recApprovals{clitest.NewApprovals(states.SFN, nil), r},
	}
	now := sandboxtest.T0.Add(time.Hour)
	runCLI := func(args ...string) {
		t.Helper()
		var out, errs bytes.Buffer
		code := cli.Main(context.Background(), args, cli.Env{
			Stdout: &out, Stderr: &errs, Getenv: func(string) string { return "" },
			Now: func() time.Time { return now }, Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() },
			Clients: clients,
		})
		if code != cli.ExitOK {
			t.Fatalf("aliasflow %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errs.String())
		}
	}
	// By function name (the e-mail suggests it), then by promotion name.
	v2 := states.Run(t, clitest.Input("hello", "2", "sha-2")).Smoke(true).AwaitApproval()
	runCLI("reject", "hello", "--comment", "not on a Friday")
	states.Clock.Advance(time.Minute)
	v3 := states.Run(t, clitest.Input("hello", "3", "sha-3")).Smoke(true).AwaitApproval()
	runCLI("approve", v3.Name(), "--comment", "looks good")
	// The approval Lambda answered both tasks: each definition moved on to
	// record its decision.
	v2.Await(promotion.ActionRejected)
	v3.Await(promotion.ActionGranted)

	var called []string
	for a := range r.actions {
		called = append(called, a)
		if _, ok := allowed[a]; !ok {
			t.Errorf("approve/reject call %s, which %s does not allow", a, aliasflow.ApproversPolicyName)
		}
	}
	sort.Strings(called)
	if !r.actions["execute-api:Invoke"] || r.actions["states:SendTaskSuccess"] || r.actions["states:SendTaskFailure"] {
		t.Errorf("calls = %v, want both decisions made through the approval API, no task answered", called)
	}
	t.Logf("approve and reject called %s", strings.Join(called, ", "))
}
