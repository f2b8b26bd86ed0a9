package e2e

import (
	"errors"
	"github.com/aliasflow/aliasflow/shared/deploy"
	"os"
	"strings"
	"testing"

	lambdasvc "github.com/aliasflow/aliasflow/sandbox/lambda"
	"github.com/aliasflow/aliasflow/sandbox/local"
	"github.com/aliasflow/aliasflow/shared/awsenv"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
)

// The CI the e2e synthesis grants a release role to (-c githubRepository,
// iam_test.go's synthesize), and another repository's.
const (
	ciKey        = "aliasflow-ci"
	ciRepository = "acme/shop"
	otherRepo    = "acme/orders"
	// repositoryTag is infra/aliasflow's RepositoryTag (the e2e does not
	// import the CDK app).
	repositoryTag = "aliasflow:repository"
	// releaseBus is where a CI puts Release Requested.
	releaseBus = deploy.ReleaseEventBus
)

// TestCIRoleAsTheSandboxEvaluatesIt (issue 18): the GitHub Actions release
// role aliasflow-github-release, reached with the CI's access key, is
// evaluated by the sandbox against its policies in the synthesized
// template: it may replace the code of its own repository's target and
// ask for a release, and nothing else — not another repository's target,
// not an alias.
func TestCIRoleAsTheSandboxEvaluatesIt(t *testing.T) {
	s := startScenarioWith(t, nil, "", cdkOut, true)
	bin, err := os.ReadFile(helloBin[helloV2])
	if err != nil {
		t.Fatal(err)
	}
	zip, err := lambdasvc.ZipBootstrap(bin)
	if err != nil {
		t.Fatal(err)
	}
	// Two targets of the pipeline, of two repositories, deployed as their
	// teams' stacks would (the target construct tags them).
	for fn, repo := range map[string]string{"shop-api": ciRepository, "orders-api": otherRepo} {
		if _, err := s.lambda.CreateFunction(s.ctx, &lambda.CreateFunctionInput{FunctionName: aws.String(fn), Runtime: lambdatypes.RuntimeProvidedal2023,
			Handler: aws.String("bootstrap"), Role: aws.String("arn:aws:iam::000000000000:role/" + fn), Code: &lambdatypes.FunctionCode{ZipFile: zip},
			Tags: map[string]string{local.PipelineTag: local.PipelineName, repositoryTag: repo}}); err != nil {
			t.Fatalf("create %s: %v", fn, err)
		}
	}
	ci := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(s.ep), HTTPClient: awsenv.LoopbackOnlyClient(),
		Credentials: credentials.NewStaticCredentialsProvider(ciKey, "test", ""), RetryMaxAttempts: 1}
	updateCode := func(fn string) func() error {
		return func() error {
			_, err := lambda.NewFromConfig(ci).UpdateFunctionCode(s.ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String(fn), ZipFile: zip})
			return err
		}
	}
	cases := []struct {
		name   string
		call   func() error
		denied bool
	}{
		{name: "update the code of its repository's target", call: updateCode("shop-api")},
		{name: "update the code of another repository's target", call: updateCode("orders-api"), denied: true},
		{name: "update the code of a target of no repository", call: updateCode(fn), denied: true},
		{name: "move prod (UpdateAlias)", call: func() error {
			_, err := lambda.NewFromConfig(ci).UpdateAlias(s.ctx, &lambda.UpdateAliasInput{FunctionName: aws.String(fn), Name: aws.String("prod"), FunctionVersion: aws.String("1")})
			return err
		}, denied: true},
		{name: "request a release (PutEvents Release Requested)", call: func() error {
			out, err := eventbridge.NewFromConfig(ci).PutEvents(s.ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
				{Source: aws.String("aliasflow"), DetailType: aws.String("Release Requested"), EventBusName: aws.String(releaseBus),
					Detail: aws.String(`{"function":"shop-api","codeSha256":"x"}`)}}})
			if err == nil && out.FailedEntryCount > 0 {
				return errors.New("entry failed: " + aws.ToString(out.Entries[0].ErrorCode))
			}
			return err
		}},
		{name: "put an event of another source", call: func() error {
			_, err := eventbridge.NewFromConfig(ci).PutEvents(s.ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
				{Source: aws.String("acme.deploys"), DetailType: aws.String("Release Requested"), EventBusName: aws.String(releaseBus), Detail: aws.String(`{}`)}}})
			return err
		}, denied: true},
	}
	for _, c := range cases {
		verb := map[bool]string{true: "may not ", false: "may "}[c.denied]
		t.Run("CI "+verb+c.name, func(t *testing.T) {
			err := c.call()
			var api smithy.APIError
			denied := errors.As(err, &api) && strings.Contains(api.ErrorCode(), "AccessDenied")
			if denied != c.denied {
				t.Errorf("%s: %v; want denied %v", c.name, err, c.denied)
			}
		})
	}
	if got := s.alias("prod").version; got != "1" {
		t.Errorf("prod = %s after the CI's calls, want 1", got)
	}
}
