package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strings"

	"github.com/aliasflow/aliasflow/infra/statemachine"
	"github.com/aliasflow/aliasflow/sandbox/apigw"
	cwsvc "github.com/aliasflow/aliasflow/sandbox/cloudwatch"
	"github.com/aliasflow/aliasflow/sandbox/core"
	"github.com/aliasflow/aliasflow/sandbox/events"
	"github.com/aliasflow/aliasflow/sandbox/iam"
	lambdasvc "github.com/aliasflow/aliasflow/sandbox/lambda"
	"github.com/aliasflow/aliasflow/shared/awsenv"
	"github.com/aliasflow/aliasflow/shared/settings"
)

// The world is what `cdk deploy` creates: the synthesized templates of the
// CDK app (infra/, `make build-local` writes them to dist/local/templates),
// applied to the sandbox resource by resource. appliers maps every type the
// world creates, in the order it creates them (a function before the
// version, alias and rule that name it); ignored lists the types it accepts
// without creating anything, each with why. A template with any other type
// is refused, by the type's name, before anything is created.
var appliers = []applier{
	{typ: "AWS::SSM::Parameter", apply: (*deployment).parameter, onResume: true},
	{typ: "AWS::Logs::LogGroup", apply: (*deployment).logGroup, onResume: true},
	{typ: "AWS::SecretsManager::Secret", apply: (*deployment).secret},
	{typ: "AWS::SNS::Topic", apply: (*deployment).topic},
	{typ: "AWS::SNS::Subscription", apply: (*deployment).subscription},
	{typ: "AWS::CodeBuild::Project", apply: (*deployment).project},
	{typ: "AWS::Lambda::Function", apply: (*deployment).function, onResume: true},
	{typ: "AWS::Lambda::Version", apply: (*deployment).version},
	{typ: "AWS::Lambda::Alias", apply: (*deployment).alias},
	{typ: customAlias, apply: (*deployment).customAlias},
	{typ: "AWS::StepFunctions::StateMachine", apply: (*deployment).stateMachine},
	{typ: "AWS::Events::EventBus", apply: (*deployment).eventBus},
	{typ: "AWS::Events::Rule", apply: (*deployment).rule},
	{typ: "AWS::CloudWatch::Alarm", apply: (*deployment).alarm},
	// The world runs its schedules (schedule.go); no service of the
	// sandbox keeps them, so a resumed world reads them again.
	{typ: "AWS::Scheduler::Schedule", apply: (*deployment).schedule, onResume: true},
	// The sandbox keeps no API Gateway state: a resumed world serves the
	// stages of now.
	{typ: "AWS::ApiGateway::RestApi", apply: (*deployment).restAPI, onResume: true},
	{typ: "AWS::ApiGateway::Stage", apply: (*deployment).stage, onResume: true},
}

type applier struct {
	typ   string
	apply func(d *deployment, s *iam.Stack, id string, r iam.Resource) error
	// onResume: applied to a resumed world too (everything else the
	// sandbox restored from its StateDir).
	onResume bool
}

// customAlias is the AwsCustomResource the target construct creates stg and
// prod with (CreateAlias, once, on the version of the first deploy).
const customAlias = "Custom::AliasflowAlias"

// ignored are the types the world accepts and does not create, each with
// the reason nothing is lost.
var ignored = map[string]string{
	"AWS::CDK::Metadata":                "the CDK's record of the construct library's version; nothing runs on it",
	"AWS::IAM::Role":                    "read by the sandbox's IAM (iam.Load) when it evaluates calls",
	"AWS::IAM::Policy":                  "read by the sandbox's IAM (iam.Load) when it evaluates calls",
	"AWS::IAM::ManagedPolicy":           "read by the sandbox's IAM (iam.Load) when it evaluates calls",
	"AWS::Lambda::Permission":           "read by the sandbox's IAM (iam.Load) when it evaluates calls",
	"AWS::ApiGateway::Method":           "created with its AWS::ApiGateway::RestApi",
	"AWS::ApiGateway::Resource":         "created with its AWS::ApiGateway::RestApi",
	"AWS::ApiGateway::Deployment":       "a stage serves its API's methods as the templates define them",
	"AWS::ApiGateway::RequestValidator": "the sandbox's API Gateway validates no parameters; the approval function answers a missing link itself",
	"AWS::ApiGateway::Account":          "the account's CloudWatch role for API Gateway's logs; the sandbox writes no access logs",
	"AWS::Logs::QueryDefinition":        "saved Logs Insights queries; the sandbox has no Logs Insights",
	"AWS::CloudWatch::Dashboard":        "the sandbox draws no dashboards",
	"AWS::KMS::Key":                     "the sandbox encrypts nothing at rest",
	"AWS::SQS::Queue":                   "the sandbox has no SQS: what AWS would dead-letter stays in the sandbox's delivery records",
	"AWS::SQS::QueuePolicy":             "the sandbox has no SQS (see AWS::SQS::Queue)",
	"AWS::SNS::TopicPolicy":             "its statement denies publishing without TLS; the sandbox is reached over loopback only",
	"AWS::Lambda::EventInvokeConfig":    "its on-failure destination is the dead-letter queue the sandbox lacks (see AWS::SQS::Queue)",
	"AWS::IAM::OIDCProvider":            "GitHub's OIDC provider for the release role; the sandbox's CI principal is the role's session (the aliasflow-ci key)",
	"AWS::Events::EventBusPolicy":       "read by the sandbox's IAM (iam.Load, Set.BusPolicies) when it evaluates PutEvents",
	"AWS::WAFv2::WebACL":                "per-client rate limiting of the approval API (ApprovalRateLimit); the sandbox serves loopback only and limits no client",
	"AWS::WAFv2::WebACLAssociation":     "attaches the WAFv2 web ACL the sandbox does not apply (see AWS::WAFv2::WebACL)",
}

// The runtime (unless Options.HelloRuntime says) and handler of hello in a
// world of Node.js (Options.HelloNode).
const (
	HelloNodeRuntime = "nodejs20.x"
	HelloNodeHandler = "index.handler"
)

// functionDirs are the BinDir directories of the functions the world runs
// (make build-local builds each as <dir>/bootstrap): on AWS the code is the
// templates' asset.
var functionDirs = map[string]string{
	ReleaseFunction:   "release",
	SmokeTestFunction: "smoketest",
	ApprovalFunction:  "approval",
	ShiftFunction:     "shift",
	ReconcileFunction: "reconcile",
	HelloFunction:     "hello",
}

// deployment is one application of the templates to the world.
type deployment struct {
	ctx     context.Context
	w       *World
	resumed bool
	// versions are the versions published, by the logical ID of their
	// AWS::Lambda::Version: only the sandbox knows a version's number.
	versions map[string]string
	// apis are the REST APIs created, by logical ID.
	apis map[string]apigw.API
	// targets are the functions the APIs' methods integrate, by API id.
	targets map[string]string
	// topics are the topics created, ARN by name.
	topics map[string]string
	// subscribed are the endpoints subscribed, by topic ARN.
	subscribed map[string][]string
	// settingsPut: the world's target's settings parameter was written.
	settingsPut bool
}

// checkTypes refuses, by name, every resource type the world can neither
// create nor ignore.
func checkTypes(stacks []*iam.Stack) error {
	var bad []string
	for _, s := range stacks {
		for _, id := range s.LogicalIDs() {
			typ := s.Resources()[id].Type
			if _, ok := ignored[typ]; ok || slices.ContainsFunc(appliers, func(a applier) bool { return a.typ == typ }) {
				continue
			}
			bad = append(bad, fmt.Sprintf("%s (%s in %s)", typ, id, s.Name()))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("the sandbox cannot apply these resource types: %s", strings.Join(bad, ", "))
	}
	return nil
}

// apply creates the world from stacks; a resumed world has its functions'
// code and configuration and the settings refreshed, and keeps the rest.
func (d *deployment) apply(stacks []*iam.Stack) error {
	if err := checkTypes(stacks); err != nil {
		return err
	}
	providers := customResourceProviders(stacks)
	for _, a := range appliers {
		if d.resumed && !a.onResume {
			continue
		}
		for _, s := range stacks {
			for _, id := range s.LogicalIDs() {
				r := s.Resources()[id]
				if r.Type != a.typ || providers[s.Name()+"/"+id] {
					continue
				}
				if err := a.apply(d, s, id, r); err != nil {
					return fmt.Errorf("%s %s (%s): %w", s.Name(), id, r.Type, err)
				}
			}
		}
	}
	if !d.settingsPut {
		return fmt.Errorf("the templates define no settings parameter %s for %s", settings.ParameterName(settings.DefaultPipeline, d.w.target.Function), d.w.target.Function)
	}
	if d.resumed {
		return nil
	}
	if d.w.smARN == "" {
		return fmt.Errorf("the templates define no state machine %s", StateMachineName)
	}
	return d.subscribeApprovers()
}

// customResourceProviders are the functions that only serve as the
// ServiceToken of custom resources the world applies itself (the CDK's
// AwsCustomResource provider, a Node.js function): they are not created.
func customResourceProviders(stacks []*iam.Stack) map[string]bool {
	out := map[string]bool{}
	for _, s := range stacks {
		for _, r := range s.Resources() {
			if r.Type != customAlias {
				continue
			}
			if m, ok := r.Properties["ServiceToken"].(map[string]any); ok {
				if att, ok := m["Fn::GetAtt"].([]any); ok && len(att) == 2 {
					if id, ok := att[0].(string); ok {
						out[s.Name()+"/"+id] = true
					}
				}
			}
		}
	}
	return out
}

// resolve resolves the properties out (a pointer to a struct) reads, with
// the versions the world published in place of their Fn::GetAtt, into out
// through JSON. The others are left alone: they may name what the sandbox
// cannot (a log group without a name).
func (d *deployment) resolve(s *iam.Stack, props map[string]any, out any) error {
	read := map[string]any{}
	st := reflect.TypeOf(out).Elem()
	for i := range st.NumField() {
		name := st.Field(i).Name
		if tag, _, _ := strings.Cut(st.Field(i).Tag.Get("json"), ","); tag != "" {
			name = tag
		}
		if v, ok := props[name]; ok {
			read[name] = v
		}
	}
	v, err := s.Resolve(d.published(read))
	if err != nil {
		return err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("properties: %w", err)
	}
	return nil
}

// published replaces {"Fn::GetAtt": [version, "Version"]} of a version the
// world published by its number.
func (d *deployment) published(v any) any {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = d.published(e)
		}
		return out
	case map[string]any:
		if att, ok := x["Fn::GetAtt"].([]any); ok && len(x) == 1 && len(att) == 2 && att[1] == "Version" {
			if id, _ := att[0].(string); d.versions[id] != "" {
				return d.versions[id]
			}
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = d.published(e)
		}
		return out
	}
	return v
}

// parameter writes an SSM parameter; the world's target's settings are the
// world's (Options.Hello), as the CDK app writes each target's own.
func (d *deployment) parameter(s *iam.Stack, _ string, r iam.Resource) error {
	var p struct{ Name, Value string }
	if err := d.resolve(s, r.Properties, &p); err != nil {
		return err
	}
	if p.Name == settings.ParameterName(settings.DefaultPipeline, d.w.target.Function) {
		doc, err := settings.Encode(*d.w.target)
		if err != nil {
			return err
		}
		p.Value, d.settingsPut = doc, true
	}
	_, err := d.w.sb.SSM().PutParameter(p.Name, p.Value, true)
	return err
}

// logGroup creates a named log group, so that reading it before its first
// event finds it empty, as on AWS (history on a fresh world: no records
// yet, not "not found"). A group without a name (CloudFormation would
// generate one) is one nothing in the world reads by name: skipped. The
// sandbox keeps every event whatever RetentionInDays says.
func (d *deployment) logGroup(s *iam.Stack, _ string, r iam.Resource) error {
	var p struct{ LogGroupName string }
	if err := d.resolve(s, r.Properties, &p); err != nil {
		return err
	}
	if p.LogGroupName != "" {
		d.w.sb.Logs().CreateGroup(p.LogGroupName)
	}
	return nil
}

// secret creates a secret; a generated value ("AWS::SecretsManager::Secret
// GenerateSecretString") is PasswordLength random hex digits, letters and
// digits as ExcludePunctuation asks.
func (d *deployment) secret(s *iam.Stack, _ string, r iam.Resource) error {
	var p struct {
		Name                 string
		SecretString         string
		GenerateSecretString *struct{ PasswordLength int }
	}
	if err := d.resolve(s, r.Properties, &p); err != nil {
		return err
	}
	if g := p.GenerateSecretString; g != nil {
		n := g.PasswordLength
		if n == 0 {
			n = 32 // the documented default
		}
		key := make([]byte, n)
		_, _ = rand.Read(key)
		p.SecretString = hex.EncodeToString(key)[:n]
	}
	_, err := d.w.sb.Secrets().CreateSecret(p.Name, p.SecretString)
	return err
}

func (d *deployment) topic(s *iam.Stack, _ string, r iam.Resource) error {
	var p struct{ TopicName string }
	if err := d.resolve(s, r.Properties, &p); err != nil {
		return err
	}
	arn, err := d.w.sb.SNS().CreateTopic(p.TopicName)
	d.topics[p.TopicName] = arn
	return err
}

func (d *deployment) subscription(s *iam.Stack, _ string, r iam.Resource) error {
	var p struct {
		TopicArn, Protocol, Endpoint, FilterPolicyScope string
		FilterPolicy                                    json.RawMessage
	}
	if err := d.resolve(s, r.Properties, &p); err != nil {
		return err
	}
	return d.subscribe(p.TopicArn, p.Protocol, p.Endpoint, string(p.FilterPolicy), p.FilterPolicyScope)
}

func (d *deployment) subscribe(topicARN, protocol, endpoint, filterPolicy, scope string) error {
	if scope == "" {
		scope = "MessageAttributes" // FilterPolicyScope's default
	}
	if _, err := d.w.sb.SNS().Subscribe(topicARN, protocol, endpoint, filterPolicy, scope); err != nil {
		return fmt.Errorf("subscribe %s: %w", endpoint, err)
	}
	d.subscribed[topicARN] = append(d.subscribed[topicARN], endpoint)
	return nil
}

// subscribeApprovers subscribes the world's target's approvers the
// templates did not: the CDK app subscribes every approver of every target
// (infra/aliasflow Pipeline.subscribe), and the world's target is its own.
func (d *deployment) subscribeApprovers() error {
	topicARN := d.topics[TopicName]
	if topicARN == "" {
		return fmt.Errorf("the templates define no SNS topic %s", TopicName)
	}
	for _, a := range d.w.target.Approvers {
		if slices.Contains(d.subscribed[topicARN], a) {
			continue
		}
		policy, _ := json.Marshal(map[string][]string{"approver": {a}})
		if err := d.subscribe(topicARN, "email", a, string(policy), ""); err != nil {
			return err
		}
	}
	return nil
}

// project tags a CodeBuild project: the sandbox's CodeBuild runs any
// project's builds (World.RunBuild), and the release role reads builds
// only of tagged projects.
func (d *deployment) project(s *iam.Stack, _ string, r iam.Resource) error {
	var p struct {
		Name string
		Tags []struct{ Key, Value string }
	}
	if err := d.resolve(s, r.Properties, &p); err != nil {
		return err
	}
	tags := map[string]string{}
	for _, t := range p.Tags {
		tags[t.Key] = t.Value
	}
	d.w.sb.CodeBuild().TagProject(p.Name, tags)
	return nil
}

// localArchitecture is the Lambda architecture of the bootstraps make
// build-local builds: this machine's.
func localArchitecture() string {
	if runtime.GOARCH == "arm64" {
		return "arm64"
	}
	return "x86_64"
}

// function creates a function with the templates' configuration and the
// bootstrap of BinDir, with two local additions to its environment: the
// sandbox's endpoint, and loopback-only (a function never reaches AWS).
// A resumed world's pipeline functions get the binaries built since and the
// templates of now; a target (tagged with the pipeline) keeps its code.
func (d *deployment) function(s *iam.Stack, id string, r iam.Resource) error {
	props := maps.Clone(r.Properties)
	delete(props, "Code") // the asset; the world's code is BinDir's
	var p struct {
		FunctionName, Description, Handler, Runtime, Role string
		Timeout, MemorySize                               *int
		ReservedConcurrentExecutions                      *int
		Environment                                       *lambdasvc.Environment
		LoggingConfig                                     *lambdasvc.LoggingConfig
		Tags                                              []struct{ Key, Value string }
	}
	if err := d.resolve(s, props, &p); err != nil {
		return err
	}
	dir, ok := functionDirs[p.FunctionName]
	if !ok {
		return fmt.Errorf("function %q: no bootstrap in BinDir runs it (local functionDirs)", p.FunctionName)
	}
	env := map[string]string{}
	if p.Environment != nil {
		env = p.Environment.Variables
	}
	env["AWS_ENDPOINT_URL"] = d.w.sb.Endpoint()
	env[awsenv.LoopbackOnlyEnv] = "1"
	tags := map[string]string{}
	for _, t := range p.Tags {
		tags[t.Key] = t.Value
	}
	zip, err := d.w.zip(dir)
	if p.FunctionName == HelloFunction && d.w.opts.HelloNode != "" {
		p.Runtime, p.Handler = HelloNodeRuntime, HelloNodeHandler
		if d.w.opts.HelloRuntime != "" {
			p.Runtime = d.w.opts.HelloRuntime
		}
		zip, err = lambdasvc.ZipDir(d.w.opts.HelloNode)
	}
	if err != nil {
		return err
	}
	lam := d.w.sb.Lambda()
	if _, err := lam.GetFunctionConfiguration(p.FunctionName, ""); err == nil && d.resumed {
		if _, target := tags[PipelineTag]; target {
			return nil
		}
		if _, err := lam.UpdateFunctionConfiguration(p.FunctionName, lambdasvc.UpdateFunctionConfigurationInput{
			Environment: &lambdasvc.Environment{Variables: env}, Description: &p.Description, Timeout: p.Timeout,
			MemorySize: p.MemorySize, Role: &p.Role, LoggingConfig: p.LoggingConfig,
		}); err != nil {
			return err
		}
		if err := d.w.waitSettled(d.ctx, p.FunctionName); err != nil {
			return err
		}
		if _, err := lam.UpdateFunctionCode(p.FunctionName, lambdasvc.UpdateFunctionCodeInput{ZipFile: zip}); err != nil {
			return err
		}
		return d.reserve(p.FunctionName, p.ReservedConcurrentExecutions)
	}
	if _, err := lam.CreateFunction(lambdasvc.CreateFunctionInput{
		FunctionName: p.FunctionName, Runtime: p.Runtime, Handler: p.Handler, Role: p.Role, Description: p.Description,
		Code: lambdasvc.FunctionCode{ZipFile: zip}, Timeout: p.Timeout, MemorySize: p.MemorySize,
		Environment: &lambdasvc.Environment{Variables: env}, LoggingConfig: p.LoggingConfig,
		Architectures: []string{localArchitecture()}, Tags: tags,
	}); err != nil {
		return err
	}
	return d.reserve(p.FunctionName, p.ReservedConcurrentExecutions)
}

// reserve applies a function's ReservedConcurrentExecutions, as
// CloudFormation does with PutFunctionConcurrency: past it, the sandbox's
// Lambda throttles as Lambda does (a synchronous call gets 429, an
// asynchronous event goes back on the queue).
func (d *deployment) reserve(function string, reserved *int) error {
	if reserved == nil {
		return nil
	}
	return d.w.sb.Lambda().PutFunctionConcurrency(function, *reserved)
}

// version publishes a version once the function's creation has finished.
func (d *deployment) version(s *iam.Stack, id string, r iam.Resource) error {
	var p struct{ FunctionName, Description string }
	if err := d.resolve(s, r.Properties, &p); err != nil {
		return err
	}
	if err := d.w.waitSettled(d.ctx, p.FunctionName); err != nil {
		return err
	}
	v, err := d.w.sb.Lambda().PublishVersion(p.FunctionName, lambdasvc.PublishVersionInput{Description: p.Description})
	if err != nil {
		return err
	}
	// The world is ready once the version is Active.
	if err := d.w.waitSettled(d.ctx, p.FunctionName, v.Version); err != nil {
		return err
	}
	d.versions[id] = v.Version
	return nil
}

func (d *deployment) alias(s *iam.Stack, _ string, r iam.Resource) error {
	var p struct{ FunctionName, FunctionVersion, Name, Description string }
	if err := d.resolve(s, r.Properties, &p); err != nil {
		return err
	}
	return d.createAlias(p.FunctionName, p.Name, p.FunctionVersion, p.Description)
}

func (d *deployment) createAlias(function, name, version, description string) error {
	_, err := d.w.sb.Lambda().CreateAlias(function, lambdasvc.CreateAliasInput{Name: name, FunctionVersion: version, Description: description})
	return err
}

// customAlias makes the Lambda call of an AwsCustomResource's Create (the
// target construct's stg and prod), CreateAlias being the one it makes.
func (d *deployment) customAlias(s *iam.Stack, _ string, r iam.Resource) error {
	var p struct{ Create string }
	if err := d.resolve(s, r.Properties, &p); err != nil {
		return err
	}
	var call struct {
		Service, Action          string
		Parameters               struct{ FunctionName, FunctionVersion, Name, Description string }
		IgnoreErrorCodesMatching string
	}
	if err := json.Unmarshal([]byte(p.Create), &call); err != nil {
		return fmt.Errorf("the custom resource's Create: %w", err)
	}
	if call.Service != "Lambda" || call.Action != "CreateAlias" {
		return fmt.Errorf("the custom resource's Create calls %s %s: the sandbox applies only Lambda CreateAlias", call.Service, call.Action)
	}
	var ignore *regexp.Regexp
	if call.IgnoreErrorCodesMatching != "" {
		re, err := regexp.Compile(call.IgnoreErrorCodesMatching)
		if err != nil {
			return fmt.Errorf("the custom resource's ignoreErrorCodesMatching %q: %w", call.IgnoreErrorCodesMatching, err)
		}
		ignore = re
	}
	c := call.Parameters
	err := d.createAlias(c.FunctionName, c.Name, c.FunctionVersion, c.Description)
	// As CDK's AwsCustomResource provider does, an error whose code matches
	// ignoreErrorCodesMatching succeeds the resource: the target's
	// ResourceConflictException is an existing alias, adopted as it is.
	var apiErr *core.APIError
	if ignore != nil && errors.As(err, &apiErr) && ignore.MatchString(apiErr.Code) {
		return nil
	}
	return err
}

// stateMachine creates the state machine with its definition's
// substitutions; the approval URL is the approval stage's on the sandbox
// (on AWS it is https://<api>.execute-api.<region>.amazonaws.com/<stage>/).
func (d *deployment) stateMachine(s *iam.Stack, _ string, r iam.Resource) error {
	var p struct {
		StateMachineName, DefinitionString, RoleArn string
		DefinitionSubstitutions                     map[string]string
	}
	if err := d.resolve(s, r.Properties, &p); err != nil {
		return err
	}
	if _, ok := p.DefinitionSubstitutions[statemachine.ApprovalURL]; ok {
		p.DefinitionSubstitutions[statemachine.ApprovalURL] = d.w.ApprovalURL()
	}
	def := p.DefinitionString
	for k, v := range p.DefinitionSubstitutions {
		def = strings.ReplaceAll(def, "${"+k+"}", v)
	}
	arn, err := d.w.sb.States().CreateStateMachine(p.StateMachineName, def, p.RoleArn)
	if err != nil {
		return err
	}
	if p.StateMachineName == StateMachineName {
		d.w.smARN = arn
	}
	return nil
}

// eventBus creates a custom event bus (the release bus); a resumed world
// kept it.
func (d *deployment) eventBus(s *iam.Stack, _ string, r iam.Resource) error {
	var p struct{ Name string }
	if err := d.resolve(s, r.Properties, &p); err != nil {
		return err
	}
	_, err := d.w.sb.Events().CreateEventBus(p.Name)
	return err
}

// rule creates an EventBridge rule and its targets. A target's
// DeadLetterConfig and RetryPolicy are not applied: the sandbox has no SQS,
// and retries as Options.EventRetryDelays says.
func (d *deployment) rule(s *iam.Stack, _ string, r iam.Resource) error {
	var p struct {
		Name, Description, State, EventBusName, RoleArn string
		EventPattern                                    json.RawMessage
		Targets                                         []events.Target
	}
	if err := d.resolve(s, r.Properties, &p); err != nil {
		return err
	}
	ev := d.w.sb.Events()
	if _, err := ev.PutRule(events.RuleInput{Name: p.Name, EventPattern: string(p.EventPattern), Description: p.Description,
		State: p.State, EventBusName: p.EventBusName, RoleArn: p.RoleArn}); err != nil {
		return err
	}
	if failed, err := ev.PutTargets(p.Name, p.EventBusName, p.Targets); err != nil || len(failed) > 0 {
		return fmt.Errorf("targets: %v %v", err, failed)
	}
	return nil
}

func (d *deployment) alarm(s *iam.Stack, _ string, r iam.Resource) error {
	var in cwsvc.PutMetricAlarmInput
	if err := d.resolve(s, r.Properties, &in); err != nil {
		return err
	}
	return d.w.sb.CloudWatch().PutMetricAlarm(in)
}

// restAPI creates a REST API with the methods of the template that belong
// to it, each integrating one function (AWS_PROXY).
func (d *deployment) restAPI(s *iam.Stack, id string, _ iam.Resource) error {
	apiID, err := s.Resolve(map[string]any{"Ref": id})
	if err != nil {
		return err
	}
	api := apigw.API{ID: fmt.Sprint(apiID)}
	target := ""
	for _, mid := range s.LogicalIDs() {
		m := s.Resources()[mid]
		if m.Type != "AWS::ApiGateway::Method" || !refersTo(m.Properties["RestApiId"], id) {
			continue
		}
		var p struct {
			HTTPMethod        string `json:"HttpMethod"`
			AuthorizationType string
			Integration       struct {
				Type string
				URI  string `json:"Uri"`
			}
		}
		if err := d.resolve(s, m.Properties, &p); err != nil {
			return fmt.Errorf("method %s: %w", mid, err)
		}
		path, err := resourcePath(s, id, m.Properties["ResourceId"])
		if err != nil {
			return fmt.Errorf("method %s: %w", mid, err)
		}
		fn, ok := integratedFunction(p.Integration.URI)
		if p.Integration.Type != "AWS_PROXY" || !ok {
			return fmt.Errorf("method %s: integration %s %s: the sandbox's API Gateway integrates a Lambda function by AWS_PROXY only", mid, p.Integration.Type, p.Integration.URI)
		}
		if target != "" && fn != target {
			return fmt.Errorf("method %s integrates %s, another of the API's %s: the sandbox's API Gateway serves one function per API", mid, fn, target)
		}
		target = fn
		auth := p.AuthorizationType
		if auth == "NONE" {
			auth = ""
		}
		api.Methods = append(api.Methods, apigw.Method{HTTPMethod: p.HTTPMethod, Path: path, AuthorizationType: auth})
	}
	d.apis[id], d.targets[api.ID] = api, target
	return d.w.sb.APIGateway().PutAPI(api)
}

// integratedFunction is the function of a Lambda integration's URI
// (arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<arn>/invocations).
func integratedFunction(uri string) (string, bool) {
	_, rest, ok := strings.Cut(uri, ":lambda:path/2015-03-31/functions/")
	if !ok {
		return "", false
	}
	return strings.CutSuffix(rest, "/invocations")
}

// resourcePath is the path of a method's ResourceId: the API's root
// resource, or an AWS::ApiGateway::Resource's PathPart under its parent's.
func resourcePath(s *iam.Stack, api string, v any) (string, error) {
	if m, ok := v.(map[string]any); ok {
		if att, ok := m["Fn::GetAtt"].([]any); ok && len(att) == 2 && att[0] == api && att[1] == "RootResourceId" {
			return "/", nil
		}
		if ref, ok := m["Ref"].(string); ok {
			if r := s.Resources()[ref]; r.Type == "AWS::ApiGateway::Resource" {
				parent, err := resourcePath(s, api, r.Properties["ParentId"])
				if err != nil {
					return "", err
				}
				part, _ := r.Properties["PathPart"].(string)
				return strings.TrimSuffix(parent, "/") + "/" + part, nil
			}
		}
	}
	b, _ := json.Marshal(v)
	return "", fmt.Errorf("ResourceId %s is neither the API's root resource nor one of its AWS::ApiGateway::Resource", b)
}

func refersTo(v any, id string) bool {
	m, ok := v.(map[string]any)
	return ok && m["Ref"] == id
}

// stage serves an API's methods under its name, invoking the function its
// methods integrate.
func (d *deployment) stage(s *iam.Stack, id string, r iam.Resource) error {
	ref, _ := r.Properties["RestApiId"].(map[string]any)
	apiRef, _ := ref["Ref"].(string)
	api, ok := d.apis[apiRef]
	if !ok {
		return fmt.Errorf("RestApiId names no AWS::ApiGateway::RestApi of the template")
	}
	var p struct {
		StageName string
		Variables map[string]string
	}
	if err := d.resolve(s, r.Properties, &p); err != nil {
		return err
	}
	return d.w.sb.APIGateway().PutStage(apigw.Stage{Name: p.StageName, Variables: p.Variables, Target: d.targets[api.ID], API: api.ID})
}
