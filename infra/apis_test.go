package main

import (
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"

	"github.com/aliasflow/aliasflow/infra/internal/cdktest"
	"github.com/aliasflow/aliasflow/sandbox/apigw"
	"github.com/aliasflow/aliasflow/sandbox/local"
)

// TestSandboxServesTheTemplatesMethods holds the sandbox to the CDK app:
// the REST APIs the synthesized templates define (by their Name, which the
// sandbox's IAM reads as the API's id), each with its methods (HTTP method
// and resource path), are exactly the APIs sandbox/local serves
// (local.APIs), whose stages answer any other resource or method 403
// Missing Authentication Token as API Gateway does.
func TestSandboxServesTheTemplatesMethods(t *testing.T) {
	got := map[string][]string{}
	for _, stack := range []awscdk.Stack{app.pipeline.Stack, app.sample.Stack} {
		for name, methods := range restAPIMethods(t, cdktest.TemplateJSON(t, stack)) {
			if _, dup := got[name]; dup {
				t.Errorf("two REST APIs are named %s", name)
			}
			got[name] = methods
		}
	}
	want := map[string][]string{}
	for _, a := range local.APIs {
		want[a.ID] = methodStrings(a.Methods)
	}
	for name, methods := range got {
		if !slices.Equal(methods, want[name]) {
			t.Errorf("REST API %s: the templates define %v, sandbox/local serves %v", name, methods, want[name])
		}
	}
	for name, methods := range want {
		if _, ok := got[name]; !ok {
			t.Errorf("sandbox/local serves API %s (%v), which no template defines", name, methods)
		}
	}
}

func methodStrings(ms []apigw.Method) []string {
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		out = append(out, m.String())
	}
	slices.Sort(out)
	return out
}

// restAPIMethods lists, by each AWS::ApiGateway::RestApi's Name, its
// methods as "METHOD /resource/path", resolving each method's resource
// through its AWS::ApiGateway::Resource parents up to the API's root.
func restAPIMethods(t *testing.T, tmpl map[string]any) map[string][]string {
	t.Helper()
	apis := cdktest.Resources(tmpl, "AWS::ApiGateway::RestApi")
	resources := cdktest.Resources(tmpl, "AWS::ApiGateway::Resource")
	// path resolves a ResourceId or ParentId: the root resource's
	// Fn::GetAtt [api, RootResourceId], or a Ref to a Resource.
	var path func(v any) (api, p string, err error)
	path = func(v any) (string, string, error) {
		m, _ := v.(map[string]any)
		if att, ok := m["Fn::GetAtt"].([]any); ok && len(att) == 2 && att[1] == "RootResourceId" {
			return fmt.Sprint(att[0]), "/", nil
		}
		ref, _ := m["Ref"].(string)
		r, ok := resources[ref]
		if !ok {
			return "", "", fmt.Errorf("resource id %s is neither an API's root nor a resource of the template", cdktest.Flat(v))
		}
		api, parent, err := path(r["ParentId"])
		if err != nil {
			return "", "", err
		}
		if parent == "/" {
			parent = ""
		}
		return api, parent + "/" + fmt.Sprint(r["PathPart"]), nil
	}
	out := map[string][]string{}
	for id, m := range cdktest.Resources(tmpl, "AWS::ApiGateway::Method") {
		api, p, err := path(m["ResourceId"])
		if err != nil {
			t.Fatalf("method %s: %v", id, err)
		}
		ref, _ := m["RestApiId"].(map[string]any)
		if ref["Ref"] != api {
			t.Fatalf("method %s: RestApiId %s, but its resource belongs to %s", id, cdktest.Flat(m["RestApiId"]), api)
		}
		name, ok := apis[api]["Name"].(string)
		if !ok {
			t.Fatalf("method %s: REST API %s has no literal Name", id, api)
		}
		auth, _ := m["AuthorizationType"].(string)
		out[name] = append(out[name], apigw.Method{HTTPMethod: fmt.Sprint(m["HttpMethod"]), Path: p, AuthorizationType: auth}.String())
	}
	for _, a := range apis {
		if name, _ := a["Name"].(string); out[name] == nil {
			out[name] = []string{} // an API without methods
		}
	}
	for _, ms := range out {
		slices.Sort(ms)
	}
	return out
}
