package e2e

import (
	"encoding/json"
	"maps"
	"testing"

	"github.com/aliasflow/aliasflow/sandbox/local"
	"github.com/aliasflow/aliasflow/shared/awsenv"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aliasflow/aliasflow/shared/settings"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// TestSettingsChangeNeedsNoDeploy: a target's settings are its own SSM
// parameter. Writing a new value — what deploying the target's stack does —
// changes the next release's promotion (here hello's canary becomes
// all-at-once with another approver) while no pipeline Lambda changes.
func TestSettingsChangeNeedsNoDeploy(t *testing.T) {
	t.Parallel()
	s := newScenario(t, nil)
	pipeline := []string{local.ReleaseFunction, local.SmokeTestFunction, local.ApprovalFunction, local.ShiftFunction}
	revisions := func() map[string]string {
		out := map[string]string{}
		for _, fn := range pipeline {
			c, err := s.lambda.GetFunctionConfiguration(s.ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(fn)})
			if err != nil {
				t.Fatalf("GetFunctionConfiguration(%s): %v", fn, err)
			}
			out[fn] = aws.ToString(c.RevisionId)
		}
		return out
	}
	before := revisions()

	changed := s.target
	changed.Strategy = config.StrategyConfig{Type: config.AllAtOnce}
	changed.Approvers = []string{"oncall@example.com"}
	doc, err := settings.Encode(changed)
	if err != nil {
		t.Fatal(err)
	}
	client := ssm.New(ssm.Options{
		BaseEndpoint: aws.String(s.ep), Region: "us-east-1", HTTPClient: awsenv.LoopbackOnlyClient(),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
	name := settings.ParameterName(settings.DefaultPipeline, local.HelloFunction)
	put, err := client.PutParameter(s.ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(doc), Type: ssmtypes.ParameterTypeString, Overwrite: aws.Bool(true)})
	if err != nil || put.Version < 2 {
		t.Fatalf("PutParameter(%s) = %+v, %v; want a new version of the world's parameter", name, put, err)
	}

	p := s.merge(helloV2, "5e77149")
	out, err := s.sfn.DescribeExecution(s.ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(p.arn)})
	if err != nil {
		t.Fatal(err)
	}
	var in promotion.Input
	if err := json.Unmarshal([]byte(aws.ToString(out.Input)), &in); err != nil {
		t.Fatalf("execution input: %v", err)
	}
	if in.Target.Strategy.Type != config.AllAtOnce || len(in.Target.Approvers) != 1 || in.Target.Approvers[0] != "oncall@example.com" {
		t.Errorf("promotion target = %+v, want the parameter's new settings (all-at-once, oncall@example.com)", in.Target)
	}
	if len(in.Steps) != 0 {
		t.Errorf("steps = %+v, want none (all at once), not the world's canary", in.Steps)
	}
	if after := revisions(); !maps.Equal(before, after) {
		t.Errorf("pipeline Lambdas changed: %v → %v; a settings change must need no pipeline deploy", before, after)
	}
}
