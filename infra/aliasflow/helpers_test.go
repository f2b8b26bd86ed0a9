package aliasflow_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// placeholderAssets writes a bootstrap file per Lambda so the stacks can be
// synthesized before (or without) `make build`.
func placeholderAssets(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, fn := range []string{"release", "smoketest", "approval", "shift", "hello"} {
		if err := os.MkdirAll(filepath.Join(dir, fn), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fn, "bootstrap"), []byte("placeholder "+fn), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// noPanic runs f and turns a jsii panic (a failed assertion or a synth
// error) into a test failure.
func noPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("%s: %v", what, r)
		}
	}()
	f()
}

// panicMessage runs f and returns what it panicked with ("" if it did not).
func panicMessage(f func()) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprint(r)
		}
	}()
	f()
	return ""
}

// withNag adds both rule packs to app, as the CDK app itself does.
func withNag(app awscdk.App) {
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	awscdk.Aspects_Of(app).Add(cdknag.NewServerlessChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
}

// assertNagClean fails on any unsuppressed cdk-nag error or warning.
func assertNagClean(t *testing.T, stack awscdk.Stack) {
	t.Helper()
	rules := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*|Serverless-.*"))
	a := assertions.Annotations_FromStack(stack)
	for kind, found := range map[string]*[]*cxapi.SynthesisMessage{
		"error":   a.FindError(jsii.String("*"), rules),
		"warning": a.FindWarning(jsii.String("*"), rules),
	} {
		for _, m := range *found {
			t.Errorf("cdk-nag %s on %s: %v", kind, *m.Id, m.Entry.Data)
		}
	}
}

// templateJSON is the synthesized template as plain Go values.
func templateJSON(t *testing.T, stack awscdk.Stack) map[string]any {
	t.Helper()
	var out map[string]any
	noPanic(t, "synth", func() {
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

// resources returns the template's resources of one type by logical id.
func resources(tmpl map[string]any, typ string) map[string]map[string]any {
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

// statement is one IAM statement of a template, its resources rendered as
// strings (intrinsics as their JSON).
type statement struct {
	policy    string
	actions   []string
	resources []string
}

func statements(tmpl map[string]any) []statement {
	var out []statement
	for id, props := range resources(tmpl, "AWS::IAM::Policy") {
		doc, _ := props["PolicyDocument"].(map[string]any)
		list, _ := doc["Statement"].([]any)
		for _, s := range list {
			st, _ := s.(map[string]any)
			out = append(out, statement{policy: id, actions: strs(st["Action"]), resources: strs(st["Resource"])})
		}
	}
	return out
}

func strs(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			} else {
				b, _ := json.Marshal(e)
				out = append(out, string(b))
			}
		}
		return out
	default:
		b, _ := json.Marshal(x)
		return []string{string(b)}
	}
}

// grants reports whether a statement of the policy named like policyRe
// allows action on a resource matching resourceRe.
func grants(sts []statement, policyRe, action, resourceRe string) bool {
	pr, rr := regexp.MustCompile(policyRe), regexp.MustCompile(resourceRe)
	for _, s := range sts {
		if !pr.MatchString(s.policy) || !has(s.actions, action) {
			continue
		}
		for _, r := range s.resources {
			if rr.MatchString(r) {
				return true
			}
		}
	}
	return false
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// flat renders v as JSON, for substring checks on intrinsics.
func flat(v any) string {
	b, _ := json.Marshal(v)
	return strings.ReplaceAll(string(b), `\"`, `"`)
}
