package aliasflow

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/aliasflow/aliasflow/shared/deploy"
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/aliasflow/aliasflow/shared/eventpatterns"
)

// Access from outside the pipeline: the managed policies operators and
// approvers attach to their IAM identities, and the role a GitHub Actions
// workflow assumes (OIDC, no stored keys) to update a target's $LATEST and
// ask for its release.

// Tagging that scopes every policy here to the pipeline's targets
// (attribute-based access control: "Using attribute-based access control
// in Lambda", https://docs.aws.amazon.com/lambda/latest/dg/attribute-based-access-control.html).
const (
	// TagKey is the tag every target function carries; its value is the
	// pipeline's name (deploy.PipelineTag).
	TagKey = deploy.PipelineTag
	// DefaultPipelineName is the name of a pipeline given none, the value
	// of TagKey on its targets (a named pipeline's targets carry its name).
	DefaultPipelineName = deploy.DefaultPipelineName
	// RepositoryTag names, on a target function, the GitHub repository
	// ("owner/name") whose workflow releases it: the GitHub release role
	// may replace the code only of functions tagged with its own
	// repository, so one repository's workflow cannot ship another's
	// function.
	RepositoryTag = "aliasflow:repository"
)

// Names of what NewAccess and NewGitHubReleaseRole create.
const (
	OperatorsPolicyName   = "aliasflow-operators"
	ApproversPolicyName   = "aliasflow-approvers"
	GitHubReleaseRoleName = "aliasflow-github-release"
	// GitHubOIDCURL is GitHub Actions' OIDC issuer and GitHubOIDCAudience
	// the audience aws-actions/configure-aws-credentials asks for
	// ("Configuring OpenID Connect in Amazon Web Services", GitHub Docs).
	GitHubOIDCURL      = "https://token.actions.githubusercontent.com"
	GitHubOIDCAudience = "sts.amazonaws.com"
)

// statement is one IAM statement, built from plain strings.
func statement(sid string, actions []string, resources []*string, conditions map[string]any) awsiam.PolicyStatement {
	props := &awsiam.PolicyStatementProps{
		Sid:       jsii.String(sid),
		Actions:   jsii.Strings(actions...),
		Resources: &resources,
	}
	if conditions != nil {
		props.Conditions = &conditions
	}
	return awsiam.NewPolicyStatement(props)
}

// taggedFunctions is every function of the account and region, and each
// one's versions and aliases, as far as it carries the pipeline's tag. Tags
// apply at the function level, so a qualified ARN is covered by its
// function's tag ("Using tags on Lambda functions").
func (p *Pipeline) taggedFunctions() ([]*string, map[string]any) {
	return []*string{p.lambdaArn("*")}, map[string]any{
		"StringEquals": map[string]any{"aws:ResourceTag/" + TagKey: p.Name()},
	}
}

// ReleaseStatements are what a CI needs to release a target: replace its
// $LATEST, wait for the update (`aws lambda wait function-updated-v2` polls
// GetFunction; GetFunction of a tagged function also needs ListTags, per
// "Using tags on Lambda functions"), read the CodeSha256, and put a
// "Release Requested" event on the release bus (deploy.ReleaseEventBus) — only with aliasflow's
// source and detail type (events:source and events:detail-type, "Using IAM
// policy conditions in Amazon EventBridge").
//
// `aliasflow release` also waits for the release Lambda's answer and, with
// --wait, follows the promotion: awaitReleaseStatements.
func (p *Pipeline) ReleaseStatements() []awsiam.PolicyStatement {
	fns, tagged := p.taggedFunctions()
	return append([]awsiam.PolicyStatement{
		statement("UpdateTargetCode", updateCodeActions, fns, tagged),
		p.requestReleaseStatement(),
	}, p.awaitReleaseStatements(fns, tagged)...)
}

// checkReleaseActions are what `aliasflow release` reads of a target before
// it asks: whether prod already serves the code and which version the
// release publishes, so that a request of a build whose promotion exists
// is answered with that promotion.
var checkReleaseActions = []string{"lambda:ListAliases", "lambda:ListVersionsByFunction"}

// awaitReleaseStatements are the reads of `aliasflow release` beyond the
// request: the target's versions and aliases (checkReleaseActions, on fns
// under condition), the build's promotion (ListExecutions of the one state
// machine — its ARN is built, not listed — and DescribeExecution and
// GetExecutionHistory of its executions, for --wait), and the audit trail,
// where the release Lambda's answer is recorded.
func (p *Pipeline) awaitReleaseStatements(fns []*string, condition map[string]any) []awsiam.PolicyStatement {
	return []awsiam.PolicyStatement{
		statement("CheckRelease", checkReleaseActions, fns, condition),
		statement("ListPromotions", []string{"states:ListExecutions"}, []*string{p.stateMachineArn()}, nil),
		statement("ReadPromotions", []string{"states:DescribeExecution", "states:GetExecutionHistory"}, []*string{p.executionsArn()}, nil),
		statement("ReadReleaseAnswer", []string{"logs:FilterLogEvents"}, p.trailArns(), nil),
	}
}

// updateCodeActions replace a target's $LATEST and read it back.
var updateCodeActions = []string{"lambda:UpdateFunctionCode", "lambda:GetFunction", "lambda:GetFunctionConfiguration", "lambda:ListTags"}

// repositoryReleaseStatements are ReleaseStatements for the workflow of one
// repository: the code updates reach only the targets also tagged
// RepositoryTag=repository.
func (p *Pipeline) repositoryReleaseStatements(repository string) []awsiam.PolicyStatement {
	fns, tagged := p.taggedFunctions()
	both := map[string]any{}
	for k, v := range tagged["StringEquals"].(map[string]any) {
		both[k] = v
	}
	both["aws:ResourceTag/"+RepositoryTag] = repository
	condition := map[string]any{"StringEquals": both}
	return append([]awsiam.PolicyStatement{
		statement("UpdateTargetCode", updateCodeActions, fns, condition),
		p.requestReleaseStatement(),
	}, p.awaitReleaseStatements(fns, condition)...)
}

func (p *Pipeline) requestReleaseStatement() awsiam.PolicyStatement {
	return statement("RequestRelease", []string{"events:PutEvents"}, []*string{p.releaseBusArn()}, map[string]any{
		"StringEquals": map[string]any{
			"events:source":      eventpatterns.ReleaseSource,
			"events:detail-type": eventpatterns.ReleaseDetailType,
		},
	})
}

// findTasks are the Step Functions reads that find a promotion and where it
// stands: the state machine by name (ListStateMachines has no resource-level
// permission), its executions, and each one's description and history.
func (p *Pipeline) findTasks() []awsiam.PolicyStatement {
	return []awsiam.PolicyStatement{
		statement("FindStateMachine", []string{"states:ListStateMachines"}, []*string{jsii.String("*")}, nil),
		statement("ListPromotions", []string{"states:ListExecutions"}, []*string{p.stateMachineArn()}, nil),
		statement("ReadPromotions", []string{"states:DescribeExecution", "states:GetExecutionHistory"}, []*string{p.executionsArn()}, nil),
	}
}

// decideStatement lets a person call the approval API's IAM-authorized
// methods (execute-api:Invoke on their method ARNs, "Control access to a
// REST API with IAM permissions", API Gateway Developer Guide): decide
// (approve, reject) for every human policy, override (promote --now,
// rollback) for operators. People get no states:SendTaskSuccess or
// SendTaskFailure: a task token read in an execution history is then
// harmless, and every decision passes the approval Lambda, which checks
// the caller API Gateway verified against the target's approvers and
// records it.
func (p *Pipeline) decideStatement(override bool) awsiam.PolicyStatement {
	methods := []*string{p.decide.MethodArn()}
	if override {
		methods = append(methods, p.override.MethodArn())
	}
	return statement("DecideThroughTheApprovalAPI", []string{"execute-api:Invoke"}, methods, nil)
}

// OperatorStatements are what every `aliasflow` command needs (the CLI's
// calls are the methods of cli.LambdaAPI, StatesAPI, LogsAPI, EventsAPI;
// sts:GetCallerIdentity needs no permission).
func (p *Pipeline) OperatorStatements() []awsiam.PolicyStatement {
	fns, tagged := p.taggedFunctions()
	out := []awsiam.PolicyStatement{
		statement("ReadTargets", []string{"lambda:GetFunctionConfiguration", "lambda:ListAliases", "lambda:ListVersionsByFunction"}, fns, tagged),
		// prune deletes old published versions of the tagged targets: only
		// qualified ARNs (function:NAME:VERSION), so never a whole function;
		// Lambda itself refuses a version an alias references and $LATEST.
		statement("PruneTargetVersions", []string{"lambda:DeleteFunction"}, []*string{p.lambdaArn("*:*")}, tagged),
		// prune reports the Region's code storage; GetAccountSettings has no
		// resource-level permission ("Actions, resources, and condition keys
		// for AWS Lambda", Service Authorization Reference).
		statement("ReadCodeStorage", []string{"lambda:GetAccountSettings"}, []*string{jsii.String("*")}, nil),
		// No lambda:InvokeFunction on the pipeline's Lambdas (the shift runs
		// only what the promotion state machine scheduled) and no
		// states:StopExecution (a stopped shift would leave prod weighted):
		// prod moves only inside a running promotion; rollback fails the
		// shifting promotion's bake so that it rolls itself back.
		p.decideStatement(true),
		statement("ReadAuditTrail", []string{"logs:FilterLogEvents"}, p.trailArns(), nil),
		// status lists the targets from their settings parameters; the
		// request is authorized against the path's own ARN.
		statement("ListTargets", []string{"ssm:GetParametersByPath"}, []*string{p.stack.FormatArn(&awscdk.ArnComponents{
			Service: jsii.String("ssm"), Resource: jsii.String("parameter"), ResourceName: jsii.String(strings.Trim(p.SettingsPath(), "/")),
		})}, nil),
		p.requestReleaseStatement(),
	}
	return append(out, p.findTasks()...)
}

// ApproverStatements are what `aliasflow approve` and `reject` need, and
// nothing else: find the promotion waiting for approval and decide through
// the approval API.
func (p *Pipeline) ApproverStatements() []awsiam.PolicyStatement {
	return append(p.findTasks(), p.decideStatement(false))
}

// Access holds the managed policies of a pipeline's people.
type Access struct {
	// Operators may run every `aliasflow` command.
	Operators awsiam.ManagedPolicy
	// Approvers may approve or reject through the CLI, nothing else.
	Approvers awsiam.ManagedPolicy
}

// NewAccess creates the managed policies aliasflow-operators and
// aliasflow-approvers for p; attach them to your groups or roles.
func NewAccess(scope constructs.Construct, id string, p *Pipeline) *Access {
	c := constructs.NewConstruct(scope, jsii.String(id))
	a := &Access{
		Operators: awsiam.NewManagedPolicy(c, jsii.String("Operators"), &awsiam.ManagedPolicyProps{
			ManagedPolicyName: jsii.String(OperatorsPolicyName),
			Description:       jsii.String("aliasflow operators: every aliasflow CLI command on the pipeline and its tagged targets"),
			Statements:        policyStatements(p.OperatorStatements()),
		}),
		Approvers: awsiam.NewManagedPolicy(c, jsii.String("Approvers"), &awsiam.ManagedPolicyProps{
			ManagedPolicyName: jsii.String(ApproversPolicyName),
			Description:       jsii.String("aliasflow approvers: aliasflow approve and reject, nothing else"),
			Statements:        policyStatements(p.ApproverStatements()),
		}),
	}
	SuppressFindings(c, "AwsSolutions-IAM5",
		"states:ListStateMachines has no resource-level permission (Resource *); function:* is limited by the condition aws:ResourceTag/"+TagKey+" to the pipeline's own targets and their versions and aliases, function:*:* (prune's DeleteFunction) likewise to the qualified ARNs of those targets, so never a whole function; execution:aliasflow-promotion:* is the executions of the one promotion state machine; log-group:/aliasflow/pipeline:* is the pipeline's own log group with its streams (the audit trail history reads).",
		FindingAnyResource, findingTaggedFunctions, FindingExecutions, FindingPipelineLogs)
	return a
}

func policyStatements(sts []awsiam.PolicyStatement) *[]awsiam.PolicyStatement { return &sts }

// findingTaggedFunctions is cdk-nag's finding for function:* and
// function:*:* (limited by the tag).
const findingTaggedFunctions = `/^Resource::arn:` + ArnEnv + `:lambda:` + ArnEnv + `:` + ArnEnv + `:function:\*(?::\*)?$/`

// GitHubReleaseRoleProps configures NewGitHubReleaseRole.
type GitHubReleaseRoleProps struct {
	// Pipeline the workflow releases to. Required.
	Pipeline *Pipeline
	// Repository is the GitHub "owner/name" whose workflow may assume the
	// role. Required.
	Repository string
	// Branch whose pushes may assume it. Default "main".
	Branch string
	// ProviderArn is the account's existing IAM OIDC provider for
	// token.actions.githubusercontent.com. An account holds at most one
	// provider per URL; when empty, one is created.
	ProviderArn string
}

// GitHubReleaseRole is the role a GitHub Actions workflow assumes.
type GitHubReleaseRole struct {
	Role awsiam.Role
	// ProviderArn is the OIDC provider the role trusts.
	ProviderArn *string
}

var (
	githubRepository = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$`)
	providerArn      = regexp.MustCompile(`^arn:aws[a-zA-Z-]*:iam::\d{12}:oidc-provider/token\.actions\.githubusercontent\.com$`)
)

// ValidateRepository accepts a GitHub "owner/name".
func ValidateRepository(s string) error {
	if !githubRepository.MatchString(s) {
		return fmt.Errorf("%q is not a GitHub owner/name", s)
	}
	return nil
}

// ValidateBranch accepts a branch name usable in a push filter and an OIDC
// subject (no spaces, wildcards or git's forbidden characters).
func ValidateBranch(s string) error {
	if s == "" || strings.ContainsAny(s, " \t\n~^:?*[\\") {
		return fmt.Errorf("%q is not a branch name", s)
	}
	return nil
}

// GitHubSubject is the `sub` claim GitHub puts in a workflow's token for a
// push to branch: repo:OWNER/NAME:ref:refs/heads/BRANCH.
func GitHubSubject(repository, branch string) string {
	return "repo:" + repository + ":ref:refs/heads/" + branch
}

// NewGitHubReleaseRole creates the role aliasflow-github-release that one
// repository's workflow, on one branch, assumes with
// sts:AssumeRoleWithWebIdentity ("Create an OpenID Connect (OIDC) identity
// provider in IAM"; GitHub's "Configuring OpenID Connect in Amazon Web
// Services": evaluate token.actions.githubusercontent.com:sub in the trust
// policy). It may do ReleaseStatements and nothing else. Bad props fail
// synth, naming the field.
func NewGitHubReleaseRole(scope constructs.Construct, id string, props *GitHubReleaseRoleProps) *GitHubReleaseRole {
	c := constructs.NewConstruct(scope, jsii.String(id))
	if props == nil {
		props = &GitHubReleaseRoleProps{}
	}
	var errs []string
	if props.Pipeline == nil {
		errs = append(errs, "aliasflow GitHub release role: Pipeline is required")
	}
	if err := ValidateRepository(props.Repository); err != nil {
		errs = append(errs, fmt.Sprintf("aliasflow GitHub release role: Repository %v", err))
	}
	branch := props.Branch
	if branch == "" {
		branch = "main"
	}
	if err := ValidateBranch(branch); err != nil {
		errs = append(errs, fmt.Sprintf("aliasflow GitHub release role: Branch %v", err))
	}
	if props.ProviderArn != "" && !providerArn.MatchString(props.ProviderArn) {
		errs = append(errs, fmt.Sprintf("aliasflow GitHub release role: ProviderArn %q is not the ARN of an IAM OIDC provider for token.actions.githubusercontent.com", props.ProviderArn))
	}
	c.Node().AddValidation(&errorsValidation{errs: errs})
	r := &GitHubReleaseRole{}
	if len(errs) > 0 {
		return r
	}
	r.ProviderArn = jsii.String(props.ProviderArn)
	if props.ProviderArn == "" {
		// AWS::IAM::OIDCProvider without thumbprints: IAM secures
		// communication with GitHub's issuer through its trusted root CAs.
		r.ProviderArn = awsiam.NewOidcProviderNative(c, jsii.String("Provider"), &awsiam.OidcProviderNativeProps{
			Url:       jsii.String(GitHubOIDCURL),
			ClientIds: jsii.Strings(GitHubOIDCAudience),
		}).OidcProviderArn()
	}
	host := strings.TrimPrefix(GitHubOIDCURL, "https://")
	r.Role = awsiam.NewRole(c, jsii.String("Role"), &awsiam.RoleProps{
		RoleName:    jsii.String(GitHubReleaseRoleName),
		Description: jsii.String("GitHub Actions of " + props.Repository + " on " + branch + ": update a tagged target's $LATEST and request its release"),
		AssumedBy: awsiam.NewWebIdentityPrincipal(r.ProviderArn, &map[string]any{
			"StringEquals": map[string]any{
				host + ":aud": GitHubOIDCAudience,
				host + ":sub": GitHubSubject(props.Repository, branch),
			},
		}),
		MaxSessionDuration: awscdk.Duration_Hours(jsii.Number(1)),
	})
	for _, s := range props.Pipeline.repositoryReleaseStatements(props.Repository) {
		r.Role.AddToPolicy(s)
	}
	SuppressFindings(r.Role, "AwsSolutions-IAM5",
		"function:* is limited by the conditions aws:ResourceTag/"+TagKey+" and aws:ResourceTag/"+RepositoryTag+" to the pipeline's targets released from this repository: the workflow may update their $LATEST and read them, nothing else; execution:aliasflow-promotion:* is the executions of the one promotion state machine (read: the release's promotion, followed by release --wait); log-group:/aliasflow/pipeline:* is the pipeline's own log group with its streams (read: the release Lambda's answer).",
		findingTaggedFunctions, FindingExecutions, FindingPipelineLogs)
	return r
}

// errorsValidation reports errors found while building a construct.
type errorsValidation struct{ errs []string }

// Validate implements constructs.IValidation.
func (v *errorsValidation) Validate() *[]*string { return jsii.Strings(v.errs...) }
