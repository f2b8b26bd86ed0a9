package aliasflow_test

import (
	"encoding/json"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/aliasflow/aliasflow/cli"
	"github.com/aliasflow/aliasflow/infra/aliasflow"
	"github.com/aliasflow/aliasflow/infra/internal/cdktest"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/deploy"
	"github.com/aliasflow/aliasflow/shared/eventpatterns"
)

// accessStack is a pipeline with one imported target, its managed
// policies and a GitHub release role whose OIDC provider it creates.
func accessStack(t *testing.T) (awscdk.Stack, map[string]any) {
	t.Helper()
	app := awscdk.NewApp(nil)
	cdktest.WithNag(app)
	stack := awscdk.NewStack(app, jsii.String("Access"), nil)
	p := aliasflow.NewPipeline(stack, "Aliasflow", &aliasflow.PipelineProps{AssetDir: assetDir})
	aliasflow.NewTarget(stack, "Orders", &aliasflow.TargetProps{Pipeline: p, Settings: config.Target{Function: "orders", Approvers: []string{"lead@example.com"}}})
	aliasflow.NewAccess(stack, "Access", p)
	aliasflow.NewGitHubReleaseRole(stack, "GitHub", &aliasflow.GitHubReleaseRoleProps{Pipeline: p, Repository: "acme/shop", Branch: "release"})
	return stack, cdktest.TemplateJSON(t, stack)
}

// policyStatement is one statement of a managed policy or a role policy.
type policyStatement struct {
	Sid       string
	Actions   []string
	Resources []string
	Condition map[string]any
}

// documentStatements reads the statements of every resource of typ whose
// name property (ManagedPolicyName, or the role's logical id prefix) matches.
func documentStatements(t *testing.T, tmpl map[string]any, typ, nameKey, name string) []policyStatement {
	t.Helper()
	var out []policyStatement
	for id, props := range cdktest.Resources(tmpl, typ) {
		if nameKey != "" && props[nameKey] != name || nameKey == "" && !strings.HasPrefix(id, name) {
			continue
		}
		doc, _ := props["PolicyDocument"].(map[string]any)
		list, _ := doc["Statement"].([]any)
		for _, s := range list {
			st, _ := s.(map[string]any)
			cond, _ := st["Condition"].(map[string]any)
			sid, _ := st["Sid"].(string)
			out = append(out, policyStatement{Sid: sid, Actions: cdktest.Strings(st["Action"]), Resources: cdktest.Strings(st["Resource"]), Condition: cond})
		}
	}
	if len(out) == 0 {
		t.Fatalf("no %s %s in the template", typ, name)
	}
	return out
}

func actionsOf(sts []policyStatement) map[string]policyStatement {
	out := map[string]policyStatement{}
	for _, s := range sts {
		for _, a := range s.Actions {
			out[a] = s
		}
	}
	return out
}

// taggedOnly reports whether s is limited to the pipeline's tagged functions.
func taggedOnly(s policyStatement) bool {
	return cdktest.Flat(s.Condition) == `{"StringEquals":{"aws:ResourceTag/`+aliasflow.TagKey+`":"`+aliasflow.DefaultPipelineName+`"}}`
}

// releaseOnly reports whether s only allows aliasflow's Release Requested events.
func releaseOnly(s policyStatement) bool {
	eq, _ := s.Condition["StringEquals"].(map[string]any)
	return len(s.Condition) == 1 && len(eq) == 2 &&
		eq["events:source"] == eventpatterns.ReleaseSource && eq["events:detail-type"] == eventpatterns.ReleaseDetailType &&
		len(s.Resources) == 1 && strings.Contains(s.Resources[0], ":event-bus/"+deploy.ReleaseEventBus)
}

// cliActions are the IAM actions of every AWS call the CLI can make: the
// methods of its client interfaces (cli.Clients). sts:GetCallerIdentity
// needs no permission ("GetCallerIdentity", AWS STS API Reference: "No
// permissions are required to perform this operation"); Proofs only
// presigns that call, on the caller's machine, for the release Lambda to send.
// Of Parameters (`aliasflow settings get|set`) only the write is the
// settings owner's, not an operator's: no aliasflow identity may write a
// target's settings (TestNoAliasflowIdentityWritesSettings; README,
// `settings set`). Reading them (`settings get`) is an operator's call.
func cliActions() []string {
	prefixes := map[string]string{"Lambda": "lambda", "States": "states", "Logs": "logs", "Events": "events", "Identity": "", "Settings": "ssm",
		"Approvals": "execute-api", "Proofs": "", "Prune": "lambda", "Parameters": "ssm"}
	ownerOnly := map[string]bool{"ssm:PutParameter": true}
	iamName := map[string]string{"lambda:Invoke": "lambda:InvokeFunction"}
	seen := map[string]bool{}
	var out []string
	ct := reflect.TypeOf(cli.Clients{})
	for i := 0; i < ct.NumField(); i++ {
		f := ct.Field(i)
		prefix, ok := prefixes[f.Name]
		if !ok {
			panic("cli.Clients has a client the test does not know: " + f.Name)
		}
		if prefix == "" {
			continue
		}
		for m := 0; m < f.Type.NumMethod(); m++ {
			a := prefix + ":" + f.Type.Method(m).Name
			if n, ok := iamName[a]; ok {
				a = n
			}
			if !seen[a] && !ownerOnly[a] {
				seen[a] = true
				out = append(out, a)
			}
		}
	}
	sort.Strings(out)
	return out
}

func TestOperatorsPolicyCoversEveryCLICall(t *testing.T) {
	// GIVEN the aliasflow-operators managed policy, THEN it allows every
	// AWS call the CLI makes (read from its client interfaces), Lambda only
	// on the tagged targets, and PutEvents only for Release Requested
	// events.
	_, tmpl := accessStack(t)
	sts := documentStatements(t, tmpl, "AWS::IAM::ManagedPolicy", "ManagedPolicyName", aliasflow.OperatorsPolicyName)
	allowed := actionsOf(sts)
	for _, a := range cliActions() {
		s, ok := allowed[a]
		if !ok {
			t.Errorf("operators may not %s, which the CLI calls", a)
			continue
		}
		switch {
		case a == "lambda:GetAccountSettings":
			// The Region's code storage: no resource, so no tag to hold it to.
			if got := cdktest.Flat(s.Resources); got != `["*"]` || s.Condition != nil {
				t.Errorf("lambda:GetAccountSettings on %s if %v, want on * without condition", got, s.Condition)
			}
		case a == "lambda:DeleteFunction":
			// prune: versions of the tagged targets, never a whole function.
			if got := cdktest.Flat(s.Resources); !taggedOnly(s) || len(s.Resources) != 1 || !strings.Contains(got, ":function:*:*") {
				t.Errorf("lambda:DeleteFunction on %s if %v, want the tagged targets' qualified ARNs (function:*:*) only", got, s.Condition)
			}
		case strings.HasPrefix(a, "lambda:"):
			if !taggedOnly(s) {
				t.Errorf("%s is not limited to tagged targets: %v", a, s.Condition)
			}
		case a == "execute-api:Invoke":
			if got := cdktest.Flat(s.Resources); !strings.Contains(got, "/POST/decide") || !strings.Contains(got, "/POST/override") || len(s.Resources) != 2 {
				t.Errorf("execute-api:Invoke on %s, want the approval API's POST /decide and /override only", got)
			}
		case a == "events:PutEvents":
			if !releaseOnly(s) {
				t.Errorf("events:PutEvents is not limited to Release Requested: %+v", s)
			}
		case a == "logs:FilterLogEvents":
			// The pipeline's log group, in both forms of its ARN, and nothing else.
			if got := cdktest.Flat(s.Resources); len(s.Resources) != 2 || strings.Count(got, ":log-group:"+aliasflow.PipelineLogGroupName) != 2 {
				t.Errorf("logs:FilterLogEvents on %v, want the pipeline log group", s.Resources)
			}
		}
	}
	for a := range allowed {
		if !cdktest.Has(cliActions(), a) {
			t.Errorf("operators may %s, which no CLI call needs", a)
		}
	}
	// Issue 18: nothing moves prod outside a running promotion — operators
	// neither invoke the pipeline's Lambdas nor stop a shift half-way.
	for _, a := range []string{"lambda:InvokeFunction", "states:StopExecution", "lambda:UpdateAlias", "states:SendTaskSuccess", "states:SendTaskFailure"} {
		if _, ok := allowed[a]; ok {
			t.Errorf("operators may %s", a)
		}
	}
}

func TestApproversPolicyOnlyDecides(t *testing.T) {
	// GIVEN the aliasflow-approvers managed policy, THEN it allows finding
	// a waiting promotion and deciding through the approval API, and
	// nothing that answers a task, moves an alias, stops a promotion or
	// releases.
	_, tmpl := accessStack(t)
	sts := documentStatements(t, tmpl, "AWS::IAM::ManagedPolicy", "ManagedPolicyName", aliasflow.ApproversPolicyName)
	var got []string
	for a, s := range actionsOf(sts) {
		got = append(got, a)
		// Only the actions without resource-level permissions may be on "*".
		if !cdktest.Has([]string{"states:ListStateMachines"}, a) && cdktest.Has(s.Resources, "*") {
			t.Errorf("%s on every resource", a)
		}
		if a == "execute-api:Invoke" {
			if got := cdktest.Flat(s.Resources); !strings.Contains(got, "/POST/decide") || len(s.Resources) != 1 {
				t.Errorf("execute-api:Invoke on %s, want the approval API's POST /decide only (no override)", got)
			}
		}
	}
	sort.Strings(got)
	// Issue 18: no task tokens for people (no states:SendTask*).
	want := "execute-api:Invoke,states:DescribeExecution,states:GetExecutionHistory,states:ListExecutions,states:ListStateMachines"
	if strings.Join(got, ",") != want {
		t.Errorf("approvers may %s, want %s", strings.Join(got, ","), want)
	}
}

func TestGitHubReleaseRole(t *testing.T) {
	// GIVEN the GitHub release role for acme/shop on branch release, THEN
	// the OIDC provider is token.actions.githubusercontent.com with audience
	// sts.amazonaws.com, only that repository's branch may assume the role
	// (aud and sub both checked), and the role may update and read the
	// pipeline's functions tagged with its repository and put Release
	// Requested events, and read what `aliasflow release` reads to answer
	// (issue 21): the build's promotion on the promotion state machine and
	// the release Lambda's answer in the pipeline's log group — nothing
	// else.
	stack, tmpl := accessStack(t)
	providers := cdktest.Resources(tmpl, "AWS::IAM::OIDCProvider")
	if len(providers) != 1 {
		t.Fatalf("OIDC providers = %d, want 1", len(providers))
	}
	for _, p := range providers {
		if p["Url"] != aliasflow.GitHubOIDCURL || cdktest.Flat(p["ClientIdList"]) != `["sts.amazonaws.com"]` {
			t.Errorf("provider = %v", p)
		}
	}
	var role map[string]any
	for _, r := range cdktest.Resources(tmpl, "AWS::IAM::Role") {
		if r["RoleName"] == aliasflow.GitHubReleaseRoleName {
			role = r
		}
	}
	if role == nil {
		t.Fatal("no role " + aliasflow.GitHubReleaseRoleName)
	}
	trust := cdktest.Flat(role["AssumeRolePolicyDocument"])
	for _, want := range []string{`"Action":"sts:AssumeRoleWithWebIdentity"`, `"Federated":{"Ref":"GitHubProvider`,
		`"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com","token.actions.githubusercontent.com:sub":"repo:acme/shop:ref:refs/heads/release"}`} {
		if !strings.Contains(trust, want) {
			t.Errorf("trust policy lacks %s:\n%s", want, trust)
		}
	}
	sts := documentStatements(t, tmpl, "AWS::IAM::Policy", "", "GitHubRole")
	allowed := actionsOf(sts)
	var got []string
	for a, s := range allowed {
		got = append(got, a)
		// Only the targets of acme/shop: another repository's workflow
		// must not replace their code, nor acme/shop's theirs.
		if want := `{"StringEquals":{"aws:ResourceTag/` + aliasflow.TagKey + `":"` + aliasflow.DefaultPipelineName + `","aws:ResourceTag/` + aliasflow.RepositoryTag + `":"acme/shop"}}`; strings.HasPrefix(a, "lambda:") && cdktest.Flat(s.Condition) != want {
			t.Errorf("%s is limited by %s, want %s", a, cdktest.Flat(s.Condition), want)
		}
	}
	sort.Strings(got)
	if want := "events:PutEvents,lambda:GetFunction,lambda:GetFunctionConfiguration,lambda:ListAliases,lambda:ListTags,lambda:ListVersionsByFunction,lambda:UpdateFunctionCode," +
		"logs:FilterLogEvents,states:DescribeExecution,states:GetExecutionHistory,states:ListExecutions"; strings.Join(got, ",") != want {
		t.Errorf("role may %s, want %s", strings.Join(got, ","), want)
	}
	// The reads reach the pipeline's own state machine, its executions and
	// its log group, nothing wider.
	for _, c := range []struct{ action, resource string }{
		{"states:ListExecutions", ":stateMachine:" + aliasflow.StateMachineName},
		{"states:DescribeExecution", ":execution:" + aliasflow.StateMachineName + ":*"},
		{"states:GetExecutionHistory", ":execution:" + aliasflow.StateMachineName + ":*"},
		{"logs:FilterLogEvents", ":log-group:" + aliasflow.PipelineLogGroupName},
	} {
		s := allowed[c.action]
		if got := cdktest.Flat(s.Resources); len(s.Resources) == 0 || strings.Count(got, c.resource) != len(s.Resources) || s.Condition != nil {
			t.Errorf("%s on %s if %v, want only %s", c.action, got, s.Condition, c.resource)
		}
	}
	// Every call `aliasflow release --wait` makes is one the role may make
	// (e2e TestCIReleaseWaitsForTheAnswer runs it as this role).
	for _, a := range releaseCLIActions {
		if _, ok := allowed[a]; !ok {
			t.Errorf("the role may not %s, which aliasflow release calls", a)
		}
	}
	if !releaseOnly(allowed["events:PutEvents"]) {
		t.Errorf("PutEvents is not limited to Release Requested: %+v", allowed["events:PutEvents"])
	}
	cdktest.AssertNagClean(t, stack)
}

// releaseCLIActions are the calls `aliasflow release --wait` makes: read
// $LATEST (GetFunctionConfiguration), the versions and aliases
// (ListVersionsByFunction, ListAliases) and the build's promotions
// (ListExecutions), put the request (PutEvents), read the answer
// (FilterLogEvents) and follow the promotion (DescribeExecution,
// GetExecutionHistory). Each is a method of cli.Clients (checked below).
var releaseCLIActions = []string{"lambda:GetFunctionConfiguration", "lambda:ListVersionsByFunction", "lambda:ListAliases", "states:ListExecutions",
	"events:PutEvents", "logs:FilterLogEvents", "states:DescribeExecution", "states:GetExecutionHistory"}

func TestReleaseCLIActionsAreCLICalls(t *testing.T) {
	for _, a := range releaseCLIActions {
		if !cdktest.Has(cliActions(), a) {
			t.Errorf("%s is no call of cli.Clients", a)
		}
	}
}

func TestGitHubReleaseRoleWithExistingProvider(t *testing.T) {
	// GIVEN an account that already has GitHub's OIDC provider (at most one
	// per URL), THEN the role trusts that ARN and no provider is created.
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Existing"), nil)
	p := aliasflow.NewPipeline(stack, "Aliasflow", &aliasflow.PipelineProps{AssetDir: assetDir, ApproverEmails: []string{"ops@example.com"}})
	aliasflow.NewTarget(stack, "Orders", &aliasflow.TargetProps{Pipeline: p, Settings: config.Target{Function: "orders", Approvers: []string{"lead@example.com"}}})
	arn := "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
	aliasflow.NewGitHubReleaseRole(stack, "GitHub", &aliasflow.GitHubReleaseRoleProps{Pipeline: p, Repository: "acme/shop", ProviderArn: arn})
	tmpl := cdktest.TemplateJSON(t, stack)
	if n := len(cdktest.Resources(tmpl, "AWS::IAM::OIDCProvider")); n != 0 {
		t.Errorf("OIDC providers = %d, want none", n)
	}
	for _, r := range cdktest.Resources(tmpl, "AWS::IAM::Role") {
		if r["RoleName"] == aliasflow.GitHubReleaseRoleName {
			trust := cdktest.Flat(r["AssumeRolePolicyDocument"])
			if !strings.Contains(trust, `"Federated":"`+arn+`"`) || !strings.Contains(trust, "repo:acme/shop:ref:refs/heads/main") {
				t.Errorf("trust policy = %s", trust)
			}
		}
	}
}

func TestGitHubReleaseRoleRefusesBadProps(t *testing.T) {
	cases := []struct {
		name  string
		props aliasflow.GitHubReleaseRoleProps
		want  string
	}{
		{"no owner", aliasflow.GitHubReleaseRoleProps{Repository: "shop"}, `Repository "shop" is not a GitHub owner/name`},
		{"wildcard branch", aliasflow.GitHubReleaseRoleProps{Repository: "acme/shop", Branch: "*"}, `Branch "*" is not a branch name`},
		{"other provider", aliasflow.GitHubReleaseRoleProps{Repository: "acme/shop", ProviderArn: "arn:aws:iam::123456789012:oidc-provider/example.com"}, "is not the ARN of an IAM OIDC provider for token.actions.githubusercontent.com"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			app := awscdk.NewApp(nil)
			stack := awscdk.NewStack(app, jsii.String("Bad"), nil)
			p := aliasflow.NewPipeline(stack, "Aliasflow", &aliasflow.PipelineProps{AssetDir: assetDir})
			aliasflow.NewTarget(stack, "Orders", &aliasflow.TargetProps{Pipeline: p, Settings: config.Target{Function: "orders", Approvers: []string{"lead@example.com"}}})
			props := c.props
			props.Pipeline = p
			aliasflow.NewGitHubReleaseRole(stack, "GitHub", &props)
			msg := cdktest.PanicMessage(func() { app.Synth(nil) })
			if !strings.Contains(msg, c.want) {
				t.Errorf("synth error = %q, want %q", msg, c.want)
			}
		})
	}
}

func TestDeployDocShowsTheGitHubRolePolicy(t *testing.T) {
	// GIVEN the policy docs/deploy.md shows for aliasflow-github-release,
	// THEN each of its statements has the synthesized statement's actions
	// and conditions (resources differ only by the <region>/<account>
	// placeholders), so the page shows the exact policy.
	raw, err := os.ReadFile("../../docs/deploy.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(raw), "- this policy on the role, and nothing else:\n\n```json\n")
	block, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("docs/deploy.md shows no policy for the GitHub role")
	}
	var doc struct {
		Statement []struct {
			Sid       string
			Action    any
			Resource  any
			Condition map[string]any
		}
	}
	if err := json.Unmarshal([]byte(block), &doc); err != nil {
		t.Fatalf("the documented policy is not JSON: %v", err)
	}
	_, tmpl := accessStack(t)
	synth := map[string]policyStatement{}
	for _, s := range documentStatements(t, tmpl, "AWS::IAM::Policy", "", "GitHubRole") {
		synth[s.Sid] = s
	}
	if len(doc.Statement) != len(synth) {
		t.Errorf("documented %d statements, the role has %d", len(doc.Statement), len(synth))
	}
	for _, d := range doc.Statement {
		s, ok := synth[d.Sid]
		if !ok {
			t.Errorf("documented statement %s is not in the role", d.Sid)
			continue
		}
		got, want := cdktest.Strings(d.Action), append([]string(nil), s.Actions...)
		sort.Strings(got)
		sort.Strings(want)
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: documented actions %v, synthesized %v", d.Sid, got, want)
		}
		if cdktest.Flat(d.Condition) != cdktest.Flat(s.Condition) {
			t.Errorf("%s: documented condition %s, synthesized %s", d.Sid, cdktest.Flat(d.Condition), cdktest.Flat(s.Condition))
		}
	}
}
