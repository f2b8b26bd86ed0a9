package e2e

import (
	"os"
	"strings"
	"testing"

	"github.com/aliasflow/aliasflow/cli"
	lambdasvc "github.com/aliasflow/aliasflow/sandbox/lambda"
	"github.com/aliasflow/aliasflow/sandbox/local"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// TestCIReleaseWaitsForTheAnswer (issue 21, item 5): the GitHub Actions
// release role, as the sandbox evaluates its synthesized policy, runs
// `aliasflow release` as the example workflows do, and the CLI reads the
// release Lambda's answer with the role's permissions: a function of its
// repository that is no target of the pipeline is refused (exit 7, the
// reason named — the job fails), a new build of its target starts a
// promotion (exit 0, named), the same build again is answered with that
// promotion (the role reads the versions, aliases and executions), and
// another repository's function is out of its reach.
func TestCIReleaseWaitsForTheAnswer(t *testing.T) {
	s := startScenarioWith(t, nil, "", cdkOut, true)
	bin, err := os.ReadFile(helloBin[helloV2])
	if err != nil {
		t.Fatal(err)
	}
	zip, err := lambdasvc.ZipBootstrap(bin)
	if err != nil {
		t.Fatal(err)
	}
	for name, repo := range map[string]string{"shop-api": ciRepository, "orders-api": otherRepo} {
		if _, err := s.lambda.CreateFunction(s.ctx, &lambda.CreateFunctionInput{FunctionName: aws.String(name), Runtime: lambdatypes.RuntimeProvidedal2023,
			Handler: aws.String("bootstrap"), Role: aws.String("arn:aws:iam::000000000000:role/" + name), Code: &lambdatypes.FunctionCode{ZipFile: zip},
			Tags: map[string]string{local.PipelineTag: local.PipelineName, repositoryTag: repo}}); err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
	}
	// shop-web, a target of the pipeline released from acme/shop, has a
	// new build as $LATEST.
	sha := s.addTarget("shop-web", map[string]string{repositoryTag: ciRepository})
	name := promotion.ExecutionName("shop-web", "2", sha)

	// From here the CLI calls AWS as the CI's role.
	t.Setenv("AWS_ACCESS_KEY_ID", ciKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_SESSION_TOKEN", "")
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     []string
	}{
		{name: "a function of its repository that is no target: refused", args: []string{"release", "shop-api"}, wantCode: cli.ExitReleaseRefused,
			want: []string{"refused: ", "shop-api"}},
		{name: "a new build of its target: started", args: []string{"release", "shop-web", "--commit", "feedf00d", "--code-sha256", sha}, wantCode: cli.ExitOK,
			want: []string{"started " + name}},
		{name: "the same build again: its promotion", args: []string{"release", "shop-web"}, wantCode: cli.ExitOK,
			want: []string{"started " + name, "already existed"}},
		{name: "another repository's target: denied", args: []string{"release", "orders-api"}, wantCode: cli.ExitFailure,
			want: []string{"AccessDenied"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := s.cli(tc.args...)
			if code != tc.wantCode {
				t.Fatalf("%s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(tc.args, " "), code, tc.wantCode, out, errs)
			}
			for _, w := range tc.want {
				if !strings.Contains(out+errs, w) {
					t.Errorf("%s: output lacks %q:\n%s%s", strings.Join(tc.args, " "), w, out, errs)
				}
			}
			if tc.wantCode != cli.ExitFailure && strings.Contains(out+errs, "AccessDenied") {
				t.Errorf("%s: the CI role was denied a call:\n%s%s", strings.Join(tc.args, " "), out, errs)
			}
		})
	}
}
