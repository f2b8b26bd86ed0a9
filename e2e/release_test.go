package e2e

import (
	"fmt"
	"strconv"

	"github.com/aliasflow/aliasflow/sandbox/codebuild"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aliasflow/aliasflow/shared/release"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

// promo is one release and its promotion.
type promo struct {
	build   helloBuild
	sha     string
	commit  string
	version string
	name    string
	arn     string
}

// deploy makes build hello's $LATEST code, as the CI build of a merge does,
// and returns the promotion its release will start.
func (s *scenario) deploy(build helloBuild, commit string) *promo {
	s.t.Helper()
	bin, ok := helloBin[build]
	if !ok {
		s.t.Fatalf("hello %q was not built", build.greeting)
	}
	next := s.nextVersion()
	sha, err := s.world().DeployHello(s.ctx, bin)
	if err != nil {
		s.t.Fatalf("deploy hello %q as $LATEST: %v", build.greeting, err)
	}
	name := promotion.ExecutionName(fn, next, sha)
	return &promo{build: build, sha: sha, commit: commit, version: next, name: name,
		arn: fmt.Sprintf("arn:aws:states:us-east-1:000000000000:execution:%s:%s", stateMachine, name)}
}

// nextVersion is the number the next PublishVersion of new code gets.
func (s *scenario) nextVersion() string {
	s.t.Helper()
	versions := s.versions()
	n := 0
	for _, v := range versions {
		if i, err := strconv.Atoi(v); err == nil && i > n {
			n = i
		}
	}
	return strconv.Itoa(n + 1)
}

// versions lists hello's published versions (and $LATEST).
func (s *scenario) versions() []string {
	s.t.Helper()
	var out []string
	p := lambda.NewListVersionsByFunctionPaginator(s.lambda, &lambda.ListVersionsByFunctionInput{FunctionName: aws.String(fn)})
	for p.HasMorePages() {
		page, err := p.NextPage(s.ctx)
		if err != nil {
			s.t.Fatalf("ListVersionsByFunction %s: %v", fn, err)
		}
		for _, v := range page.Versions {
			out = append(out, aws.ToString(v.Version))
		}
	}
	return out
}

// buildOf is the CodeBuild build of p: hello-build, SUCCEEDED, exporting
// the variables hello's buildspec exports for p.
func buildOf(p *promo) codebuild.RunInput {
	return codebuild.RunInput{
		Project: buildProject, SourceVersion: p.commit, Initiator: "codebuild-webhook",
		Exported: []codebuild.EnvironmentVariable{
			{Name: release.VarFunction, Value: fn},
			{Name: release.VarCodeSha256, Value: p.sha},
			{Name: release.VarCommit, Value: p.commit},
			{Name: release.VarRequestedBy, Value: requester},
		},
	}
}

// runBuild has the sandbox CodeBuild run a build, which emits its own
// "CodeBuild Build State Change" event (only CodeBuild may put one: the
// bus refuses an aws.* source from anyone else), and returns the event's id.
func (s *scenario) runBuild(in codebuild.RunInput) string {
	s.t.Helper()
	_, id, err := s.world().Sandbox().CodeBuild().RunBuild(in)
	if err != nil {
		s.t.Fatalf("run the CodeBuild build of %s: %v", in.SourceVersion, err)
	}
	return id
}

// merge deploys build and has CodeBuild build it, then waits for the
// promotion to start.
func (s *scenario) merge(build helloBuild, commit string) *promo {
	s.t.Helper()
	p := s.deploy(build, commit)
	s.runBuild(buildOf(p))
	s.waitStarted(p)
	return p
}

// waitStarted waits until p's execution exists.
func (s *scenario) waitStarted(p *promo) {
	s.t.Helper()
	eventually(s.t, stepTimeout, func() error {
		_, err := s.sfn.DescribeExecution(s.ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(p.arn)})
		if err != nil {
			return fmt.Errorf("promotion %s of version %s has not started: %w", p.name, p.version, err)
		}
		return nil
	})
}
