package prune_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/aliasflow/aliasflow/sandbox/sandboxtest"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/prune"
)

type noTrail struct{}

func (noTrail) Records(context.Context, string) ([]audit.Record, error) { return nil, nil }

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
