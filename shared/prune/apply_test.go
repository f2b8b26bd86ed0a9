package prune_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/aliasflow/aliasflow/sandbox/sandboxtest"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/ledger"
	"github.com/aliasflow/aliasflow/shared/prune"
)

type noTrail struct{}

func (noTrail) Function(context.Context, string) (ledger.Trail, error) { return nil, nil }

// TestPlanAndApply runs the Pruner on the sandbox's Lambda through the
// real SDK client: the plan keeps the aliased versions and the newest, the
// deletions free their code storage as GetAccountSettings reports it, and
// a version an alias came to point at after the plan was read is kept —
// Lambda refuses to delete it (ResourceConflictException) and the pass
// goes on.
func TestPlanAndApply(t *testing.T) {
	ctx := context.Background()
	l := sandboxtest.NewLambda(t, sandboxtest.ActiveAtOnce)
	l.AddFunction(t, "fn", 8)
	l.SetAlias(t, "fn", "prod", "3", map[string]float64{"4": 0.25})
	l.SetAlias(t, "fn", "stg", "8", nil)
	p := &prune.Pruner{Lambda: l.Client, Trail: noTrail{}}
	before, err := p.Usage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if before.Limit != 75<<30 || before.Used <= 0 {
		t.Fatalf("Usage = %+v, want some use of a 75 GB quota", before)
	}
	plan, err := p.Plan(ctx, "fn", config.Prune{KeepLast: 2}, nil)
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	var planned []string
	for _, v := range plan.Deletions() {
		planned = append(planned, v.Number)
	}
	if got, want := strings.Join(planned, ","), "1,2,5,6"; got != want {
		t.Fatalf("planned deletions = %s, want %s", got, want)
	}
	// Another operator points an alias at version 5 between plan and apply.
	l.Before("DeleteFunction", func() {}, func() {}, func() { l.SetAlias(t, "fn", "blue", "5", nil) })
	out, err := p.Apply(ctx, plan)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	tests := []struct {
		version string
		deleted bool
		reason  string
	}{
		{"1", true, ""}, {"2", true, ""},
		{"5", false, "the following aliases reference it: [blue]"},
		{"6", true, ""},
	}
	if len(out) != len(tests) {
		t.Fatalf("outcomes = %+v, want %d", out, len(tests))
	}
	for i, tt := range tests {
		t.Run("version "+tt.version, func(t *testing.T) {
			o := out[i]
			if o.Version.Number != tt.version || o.Deleted != tt.deleted || !strings.Contains(o.Reason, tt.reason) {
				t.Errorf("outcome = %+v, want version %s deleted=%v reason with %q", o, tt.version, tt.deleted, tt.reason)
			}
		})
	}
	left, err := l.Admin.ListVersionsByFunction(ctx, &lambda.ListVersionsByFunctionInput{FunctionName: aws.String("fn")})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	var freed int64
	for _, v := range left.Versions {
		got = append(got, aws.ToString(v.Version))
	}
	for _, o := range out {
		if o.Deleted {
			freed += o.Version.CodeSize
		}
	}
	if want := "$LATEST,3,4,5,7,8"; strings.Join(got, ",") != want {
		t.Errorf("versions left = %v, want %s", got, want)
	}
	after, err := p.Usage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after.Used != before.Used-freed {
		t.Errorf("code storage used = %d after, %d before, want %d freed", after.Used, before.Used, freed)
	}
}

// running is the promotion state machine's running executions, as
// ListExecutions and DescribeExecution answer them.
type running struct{ inputs map[string]string } // name → input

func (r *running) ListExecutions(_ context.Context, in *sfn.ListExecutionsInput, _ ...func(*sfn.Options)) (*sfn.ListExecutionsOutput, error) {
	out := &sfn.ListExecutionsOutput{}
	for name := range r.inputs {
		out.Executions = append(out.Executions, sfntypes.ExecutionListItem{Name: aws.String(name), ExecutionArn: aws.String("arn:aws:states:us-east-1:000000000000:execution:aliasflow-promotion:" + name),
			Status: sfntypes.ExecutionStatusRunning})
	}
	return out, nil
}

func (r *running) DescribeExecution(_ context.Context, in *sfn.DescribeExecutionInput, _ ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	name := aws.ToString(in.ExecutionArn)[strings.LastIndex(aws.ToString(in.ExecutionArn), ":")+1:]
	return &sfn.DescribeExecutionOutput{Input: aws.String(r.inputs[name]), Status: sfntypes.ExecutionStatusRunning}, nil
}

// TestPassReadsAgainBeforeDeleting: a promotion that starts between the
// plan and the deletions (here, after the operator saw the plan) keeps the
// versions it names; a target without a policy is skipped, never pruned.
func TestPassReadsAgainBeforeDeleting(t *testing.T) {
	ctx := context.Background()
	l := sandboxtest.NewLambda(t, sandboxtest.ActiveAtOnce)
	l.AddFunction(t, "fn", 6)
	l.AddFunction(t, "other", 3)
	states := &running{inputs: map[string]string{}}
	p := &prune.Pruner{Lambda: l.Client, States: states, StateMachine: "arn:aws:states:us-east-1:000000000000:stateMachine:aliasflow-promotion", Trail: noTrail{}}
	pass, err := p.PlanAll(ctx, []config.Target{{Function: "fn", Prune: &config.Prune{KeepLast: 1}}, {Function: "other"}})
	if err != nil {
		t.Fatal(err)
	}
	if pass.Deletions() != 5 || strings.Join(pass.Skipped, ",") != "other" {
		t.Fatalf("pass plans %d deletions, skips %v; want 5 and other", pass.Deletions(), pass.Skipped)
	}
	states.inputs["fn-v6-abcd1234"] = `{"function":"fn","version":"6","previousStgVersion":"3"}`
	if err := p.ApplyAll(ctx, pass); err != nil {
		t.Fatal(err)
	}
	var deleted []string
	for _, o := range pass.Outcomes {
		if o.Deleted {
			deleted = append(deleted, o.Version.Number)
		}
	}
	if got, want := strings.Join(deleted, ","), "1,2,4,5"; got != want {
		t.Errorf("deleted %s, want %s (3 named by the promotion that started since)", got, want)
	}
	if pass.After == nil || pass.After.Used >= pass.Before.Used {
		t.Errorf("code storage before %+v after %+v, want less after", pass.Before, pass.After)
	}
	out, err := l.Admin.ListVersionsByFunction(ctx, &lambda.ListVersionsByFunctionInput{FunctionName: aws.String("other")})
	if err != nil || len(out.Versions) != 4 {
		t.Errorf("other's versions = %d, %v; want $LATEST and 3 (no policy, never pruned)", len(out.Versions), err)
	}
}
