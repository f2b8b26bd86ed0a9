// Package cdktest holds what the CDK tests of infra/ share: placeholder
// Lambda assets, recovery of jsii panics, cdk-nag checks and a template as
// plain Go values for IAM and property checks.
package cdktest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aliasflow/aliasflow/sandbox/iam"
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// Lambdas are the asset folders `make build` writes under dist/.
var Lambdas = []string{"release", "smoketest", "approval", "shift", "reconcile", "hello"}

// PlaceholderAssets writes dir/<name>/bootstrap for every Lambda so the
// stacks synthesize before (or without) `make build`.
func PlaceholderAssets(dir string) error {
	for _, fn := range Lambdas {
		if err := os.MkdirAll(filepath.Join(dir, fn), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, fn, "bootstrap"), []byte("placeholder "+fn), 0o755); err != nil {
			return err
		}
	}
	return nil
}

// NoPanic runs f and turns a jsii panic (a failed assertion or a synth
// error) into a test failure.
func NoPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("%s: %v", what, r)
		}
	}()
	f()
}

// PanicMessage runs f and returns what it panicked with ("" if it did not).
func PanicMessage(f func()) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprint(r)
		}
	}()
	f()
	return ""
}

// WithNag adds both rule packs to app, as the CDK app itself does.
func WithNag(app awscdk.App) {
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	awscdk.Aspects_Of(app).Add(cdknag.NewServerlessChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
}

// AssertNagClean fails on any unsuppressed cdk-nag error or warning.
func AssertNagClean(t *testing.T, stack awscdk.Stack) {
	t.Helper()
	rules := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*|Serverless-.*"))
	a := assertions.Annotations_FromStack(stack)
	//lint:ignore SA1019 the assertions API returns this type and aws-cdk-go has no other; its replacement lives in a JS package with no Go binding
	for kind, found := range map[string]*[]*cxapi.SynthesisMessage{
		"error":   a.FindError(jsii.String("*"), rules),
		"warning": a.FindWarning(jsii.String("*"), rules),
	} {
		for _, m := range *found {
			//lint:ignore SA1019 the assertions API returns this type and aws-cdk-go has no other; its replacement lives in a JS package with no Go binding
			t.Errorf("cdk-nag %s on %s: %v", kind, *m.Id, m.Entry.Data)
		}
	}
}

// TemplateJSON is the synthesized template as plain Go values.
func TemplateJSON(t *testing.T, stack awscdk.Stack) map[string]any {
	t.Helper()
	var out map[string]any
	NoPanic(t, "synth", func() {
		raw, err := json.Marshal(assertions.Template_FromStack(stack, nil).ToJSON())
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatal(err)
		}
	})
	return out
}

// Resources returns the template's resources of one type by logical id.
func Resources(tmpl map[string]any, typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	all, _ := tmpl["Resources"].(map[string]any)
	for id, r := range all {
		res, _ := r.(map[string]any)
		if res["Type"] == typ {
			props, _ := res["Properties"].(map[string]any)
			out[id] = props
		}
	}
	return out
}

// Statement is one IAM statement of a template, its resources rendered as
// strings (intrinsics as their JSON).
type Statement struct {
	Policy    string
	Actions   []string
	Resources []string
	// Condition is the statement's Condition block as JSON ("" for none).
	Condition string
}

// Statements lists every statement of the template's IAM policies.
func Statements(tmpl map[string]any) []Statement {
	var out []Statement
	for id, props := range Resources(tmpl, "AWS::IAM::Policy") {
		doc, _ := props["PolicyDocument"].(map[string]any)
		list, _ := doc["Statement"].([]any)
		for _, s := range list {
			st, _ := s.(map[string]any)
			s := Statement{Policy: id, Actions: Strings(st["Action"]), Resources: Strings(st["Resource"])}
			if c, ok := st["Condition"]; ok {
				s.Condition = Flat(c)
			}
			out = append(out, s)
		}
	}
	return out
}

// Strings reads a policy element that is a string or a list (Action,
// Resource): each string as is, anything else (an intrinsic function)
// flattened as Flat does.
func Strings(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			} else {
				out = append(out, Flat(e))
			}
		}
		return out
	default:
		return []string{Flat(x)}
	}
}

// Grants reports whether a statement of the policy named like policyRe
// allows action on a resource matching resourceRe.
func Grants(sts []Statement, policyRe, action, resourceRe string) bool {
	pr, rr := regexp.MustCompile(policyRe), regexp.MustCompile(resourceRe)
	for _, s := range sts {
		if !pr.MatchString(s.Policy) || !Has(s.Actions, action) {
			continue
		}
		for _, r := range s.Resources {
			if rr.MatchString(r) {
				return true
			}
		}
	}
	return false
}

// Has reports whether list holds s.
func Has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Flat renders v as JSON, for substring checks on intrinsics.
func Flat(v any) string {
	b, _ := json.Marshal(v)
	return strings.ReplaceAll(string(b), `\"`, `"`)
}

// Critical are the actions no policy may allow on every resource. (Step
// Functions' SendTaskSuccess and SendTaskFailure are not among them: they
// have no resource-level permissions, so "*" is the only grant IAM
// matches; see AssertLeastPrivilege.)
var Critical = []string{"lambda:PublishVersion", "lambda:UpdateAlias", "lambda:CreateAlias", "lambda:InvokeFunction",
	"lambda:UpdateFunctionCode", "states:StartExecution",
	"states:StopExecution", "sns:Publish", "secretsmanager:GetSecretValue"}

// AssertLeastPrivilege fails when a statement allows a Critical action on
// "*" or every action of a service, and when a statement names an action
// the Service Authorization Reference does not know, or one it lists with
// no resource type (no resource-level permissions: IAM authorizes it
// against "*", so a statement naming specific resources allows nothing)
// without "*" among its resources ("Actions, resources, and condition keys
// for AWS services", read from cfn-lint's copy by sandbox/iam).
func AssertLeastPrivilege(t *testing.T, tmpl map[string]any) {
	t.Helper()
	ref, err := iam.DefaultReference()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range Statements(tmpl) {
		for _, a := range s.Actions {
			if Has(Critical, a) && Has(s.Resources, "*") {
				t.Errorf("%s allows %s on *", s.Policy, a)
			}
			if a == "*" || strings.HasSuffix(a, ":*") {
				t.Errorf("%s allows every action of a service: %s", s.Policy, a)
			}
			matched := ref.Matching(a)
			if len(matched) == 0 {
				t.Errorf("%s allows %s, which the Service Authorization Reference does not list", s.Policy, a)
			}
			for _, m := range matched {
				if types, _ := ref.ResourceTypes(m); len(types) == 0 && !Has(s.Resources, "*") {
					t.Errorf("%s allows %s on %v only, but it has no resource-level permissions: IAM authorizes it on \"*\" and this statement never matches", s.Policy, m, s.Resources)
				}
			}
		}
	}
}
