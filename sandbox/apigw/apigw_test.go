package apigw_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/aliasflow/aliasflow/sandbox/apigw"
	"github.com/aliasflow/aliasflow/sandbox/core"
	lambdasvc "github.com/aliasflow/aliasflow/sandbox/lambda"
	"github.com/aliasflow/aliasflow/sandbox/lambda/lambdatest"
)

// fakeInvoker records the call and answers with a canned result.
type fakeInvoker struct {
	function, qualifier string
	event               events.APIGatewayProxyRequest
	result              core.InvokeResult
	err                 error
}

var _ core.Invoker = (*fakeInvoker)(nil)

func (f *fakeInvoker) Invoke(_ context.Context, function, qualifier string, payload []byte) (core.InvokeResult, error) {
	f.function, f.qualifier = function, qualifier
	_ = json.Unmarshal(payload, &f.event)
	return f.result, f.err
}

func proxy(t *testing.T, status int, body string, b64 bool) core.InvokeResult {
	t.Helper()
	p, _ := json.Marshal(map[string]any{
		"statusCode": status, "body": body, "isBase64Encoded": b64,
		"headers":           map[string]string{"Content-Type": "text/plain"},
		"multiValueHeaders": map[string][]string{"Set-Cookie": {"a=1", "b=2"}},
	})
	return core.InvokeResult{Payload: p, ExecutedVersion: "3"}
}

func newRouter(t *testing.T, inv core.Invoker) *httptest.Server {
	t.Helper()
	r := apigw.New(inv, &apigw.Options{Now: func() time.Time { return time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC) }})
	for _, a := range []apigw.API{
		// A proxy API: its root and a greedy proxy resource, any method.
		{ID: "proxyapi", Methods: []apigw.Method{{HTTPMethod: "ANY", Path: "/"}, {HTTPMethod: "ANY", Path: "/{proxy+}"}}},
		{ID: "approvalapi", Methods: []apigw.Method{{HTTPMethod: "GET", Path: "/"}, {HTTPMethod: "POST", Path: "/"}}},
	} {
		if err := r.PutAPI(a); err != nil {
			t.Fatalf("PutAPI %s: %v", a.ID, err)
		}
	}
	for _, s := range []apigw.Stage{
		{Name: "production", Variables: map[string]string{"lambdaAlias": "prod"}, Target: "hello:${stageVariables.lambdaAlias}", API: "proxyapi"},
		{Name: "staging", Variables: map[string]string{"lambdaAlias": "stg"}, Target: "hello:${stageVariables.lambdaAlias}", API: "proxyapi"},
		{Name: "approvals", Target: "aliasflow-approval", API: "approvalapi"},
	} {
		if err := r.PutStage(s); err != nil {
			t.Fatalf("PutStage %s: %v", s.Name, err)
		}
	}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv
}

func TestStageRouting(t *testing.T) {
	cases := []struct {
		name, method, path, contentType, body string
		wantFunction, wantQualifier           string
		wantPath, wantResource, wantProxy     string
		wantBody                              string
		wantBase64                            bool
	}{
		{name: "production stage resolves prod", method: "GET", path: "/production/hello?x=1&x=2",
			wantFunction: "hello", wantQualifier: "prod", wantPath: "/hello", wantResource: "/{proxy+}", wantProxy: "hello"},
		{name: "staging stage resolves stg", method: "GET", path: "/staging/hello/deep",
			wantFunction: "hello", wantQualifier: "stg", wantPath: "/hello/deep", wantResource: "/{proxy+}", wantProxy: "hello/deep"},
		{name: "approval root with form post", method: "POST", path: "/approvals", contentType: "application/x-www-form-urlencoded", body: "t=abc&decision=approve",
			wantFunction: "aliasflow-approval", wantPath: "/", wantResource: "/", wantBody: "t=abc&decision=approve"},
		{name: "binary body is base64", method: "POST", path: "/production/hello", contentType: "application/octet-stream", body: "\x00\x01\xff",
			wantFunction: "hello", wantQualifier: "prod", wantPath: "/hello", wantResource: "/{proxy+}", wantProxy: "hello",
			wantBody: base64.StdEncoding.EncodeToString([]byte("\x00\x01\xff")), wantBase64: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inv := &fakeInvoker{result: proxy(t, 201, base64.StdEncoding.EncodeToString([]byte("made")), true)}
			srv := newRouter(t, inv)
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 201 || string(got) != "made" {
				t.Errorf("response = %d %q, want 201 \"made\"", resp.StatusCode, got)
			}
			if c := resp.Header.Values("Set-Cookie"); len(c) != 2 {
				t.Errorf("Set-Cookie = %v, want both multi-value headers", c)
			}
			if inv.function != tc.wantFunction || inv.qualifier != tc.wantQualifier {
				t.Errorf("invoked %s:%s, want %s:%s", inv.function, inv.qualifier, tc.wantFunction, tc.wantQualifier)
			}
			e := inv.event
			if e.Path != tc.wantPath || e.Resource != tc.wantResource || e.PathParameters["proxy"] != tc.wantProxy {
				t.Errorf("event path/resource/proxy = %q %q %q, want %q %q %q", e.Path, e.Resource, e.PathParameters["proxy"], tc.wantPath, tc.wantResource, tc.wantProxy)
			}
			if e.Body != tc.wantBody || e.IsBase64Encoded != tc.wantBase64 {
				t.Errorf("event body = %q (base64 %v), want %q (%v)", e.Body, e.IsBase64Encoded, tc.wantBody, tc.wantBase64)
			}
			if e.HTTPMethod != tc.method || e.RequestContext.RequestID == "" || e.RequestContext.Identity.SourceIP != "127.0.0.1" {
				t.Errorf("event method %s, request id %q, source ip %q", e.HTTPMethod, e.RequestContext.RequestID, e.RequestContext.Identity.SourceIP)
			}
			stage := strings.Split(tc.path, "/")[1]
			stage, _, _ = strings.Cut(stage, "?")
			if e.RequestContext.Stage != stage {
				t.Errorf("requestContext.stage = %q, want %q", e.RequestContext.Stage, stage)
			}
		})
	}
}

func TestQueryStringAndStageVariables(t *testing.T) {
	inv := &fakeInvoker{result: proxy(t, 200, "ok", false)}
	srv := newRouter(t, inv)
	resp, err := http.Get(srv.URL + "/production/hello?x=1&x=2&y=z")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	e := inv.event
	if e.QueryStringParameters["x"] != "2" || len(e.MultiValueQueryStringParameters["x"]) != 2 || e.QueryStringParameters["y"] != "z" {
		t.Errorf("query = %v / %v", e.QueryStringParameters, e.MultiValueQueryStringParameters)
	}
	if e.StageVariables["lambdaAlias"] != "prod" {
		t.Errorf("stageVariables = %v, want lambdaAlias=prod", e.StageVariables)
	}
}

func TestErrorsAsAPIGateway(t *testing.T) {
	cases := []struct {
		name       string
		path       string
		inv        *fakeInvoker
		wantStatus int
		wantBody   string
	}{
		{"function error", "/production/hello", &fakeInvoker{result: core.InvokeResult{FunctionError: "Unhandled", Payload: []byte(`{"errorMessage":"boom"}`)}}, 502, "Internal server error"},
		{"not a proxy response", "/production/hello", &fakeInvoker{result: core.InvokeResult{Payload: []byte(`"just a string"`)}}, 502, "Internal server error"},
		{"no statusCode", "/production/hello", &fakeInvoker{result: core.InvokeResult{Payload: []byte(`{"body":"x"}`)}}, 502, "Internal server error"},
		{"integration cannot be invoked", "/production/hello", &fakeInvoker{err: core.Errorf("ResourceNotFoundException", 404, "Function not found")}, 500, "Internal server error"},
		{"unknown stage", "/nostage/hello", &fakeInvoker{}, 404, "Not Found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newRouter(t, tc.inv)
			resp, err := http.Get(srv.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var m map[string]string
			_ = json.NewDecoder(resp.Body).Decode(&m)
			if resp.StatusCode != tc.wantStatus || m["message"] != tc.wantBody {
				t.Errorf("got %d %v, want %d {message: %s}", resp.StatusCode, m, tc.wantStatus, tc.wantBody)
			}
		})
	}
}

func TestPutStageRefusesUndefinedVariable(t *testing.T) {
	r := apigw.New(&fakeInvoker{}, nil)
	if err := r.PutAPI(apigw.API{ID: "hello", Methods: []apigw.Method{{HTTPMethod: "GET", Path: "/"}}}); err != nil {
		t.Fatal(err)
	}
	err := r.PutStage(apigw.Stage{Name: "dev", Target: "hello:${stageVariables.lambdaAlias}", API: "hello"})
	if err == nil || !strings.Contains(err.Error(), "lambdaAlias") {
		t.Errorf("PutStage = %v, want an error naming lambdaAlias", err)
	}
}

// TestRealHelloBehindStage runs the sample function through the sandbox's
// Lambda: the production stage reaches the prod alias.
func TestRealHelloBehindStage(t *testing.T) {
	svc, err := lambdasvc.New(lambdasvc.Options{WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	zip := lambdatest.Zip(t, lambdatest.Build(t, "github.com/aliasflow/aliasflow/examples/hello"))
	if _, err := svc.CreateFunction(lambdasvc.CreateFunctionInput{FunctionName: "hello", Runtime: "provided.al2023", Role: "arn:aws:iam::000000000000:role/r", Handler: "bootstrap", Code: lambdasvc.FunctionCode{ZipFile: zip}}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.PublishVersion("hello", lambdasvc.PublishVersionInput{}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateAlias("hello", lambdasvc.CreateAliasInput{Name: "prod", FunctionVersion: "1"}); err != nil {
		t.Fatal(err)
	}
	// A published version is Pending for a moment (Lambda function states).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		c, err := svc.GetFunctionConfiguration("hello", "1")
		if err != nil {
			t.Fatal(err)
		}
		if c.State == "Active" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("version 1 still %s", c.State)
		}
	}
	srv := newRouter(t, svc)
	resp, err := http.Get(srv.URL + "/production/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"message":"Hello from Lambda"`) || !strings.Contains(string(body), `"stage":"production"`) {
		t.Errorf("GET /production/ = %d %s", resp.StatusCode, body)
	}
	if v := resp.Header.Get("X-Hello-Version"); v != "1" {
		t.Errorf("X-Hello-Version = %q, want 1", v)
	}
	// staging's alias does not exist: the integration fails as API Gateway's 500.
	resp2, err := http.Get(srv.URL + "/staging/")
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != 500 {
		t.Errorf("GET /staging/ with no stg alias = %d, want 500", resp2.StatusCode)
	}
}

// newStrictRouter serves stage "staging" of an API whose one method is GET
// on the root resource, as the CDK app's hello API.
func newStrictRouter(t *testing.T, inv core.Invoker, methods ...apigw.Method) *httptest.Server {
	t.Helper()
	r := apigw.New(inv, nil)
	if len(methods) == 0 {
		methods = []apigw.Method{{HTTPMethod: "GET", Path: "/"}}
	}
	if err := r.PutAPI(apigw.API{ID: "hello", Methods: methods}); err != nil {
		t.Fatal(err)
	}
	if err := r.PutStage(apigw.Stage{Name: "staging", Variables: map[string]string{"lambdaAlias": "stg"}, Target: "hello:${stageVariables.lambdaAlias}", API: "hello"}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv
}

// A resource or method the API does not define is answered 403
// {"message":"Missing Authentication Token"}, API Gateway's
// MISSING_AUTHENTICATION_TOKEN gateway response ("Gateway response types
// for API Gateway",
// https://docs.aws.amazon.com/apigateway/latest/developerguide/supported-gateway-response-types.html),
// and the function is not invoked; what the API defines is proxied.
func TestUndefinedResourceOrMethodIsMissingAuthenticationToken(t *testing.T) {
	cases := []struct {
		method, path string
		want         int
	}{
		{"GET", "/staging/", 200},
		{"GET", "/staging", 200},
		{"GET", "/staging/?x=1", 200},
		{"GET", "/staging/hello", 403},
		{"GET", "/staging/hello/deep", 403},
		{"POST", "/staging/", 403},
		{"DELETE", "/staging/", 403},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			inv := &fakeInvoker{result: proxy(t, 200, "hi", false)}
			srv := newStrictRouter(t, inv)
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.want {
				t.Fatalf("%s %s = %d %s, want %d", tc.method, tc.path, resp.StatusCode, body, tc.want)
			}
			if tc.want == 200 {
				if inv.function != "hello" || inv.qualifier != "stg" || inv.event.Resource != "/" || inv.event.Path != "/" || inv.event.RequestContext.APIID != "hello" {
					t.Errorf("invoked %s:%s with resource %q path %q api %q, want hello:stg on / of hello", inv.function, inv.qualifier, inv.event.Resource, inv.event.Path, inv.event.RequestContext.APIID)
				}
				return
			}
			if string(body) != `{"message":"Missing Authentication Token"}`+"\n" {
				t.Errorf("body = %q, want {\"message\":\"Missing Authentication Token\"}", body)
			}
			if et := resp.Header.Get("x-amzn-ErrorType"); et != "MissingAuthenticationTokenException" {
				t.Errorf("x-amzn-ErrorType = %q", et)
			}
			if resp.Header.Get("x-amzn-RequestId") == "" || resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("headers = %v, want a request id and application/json", resp.Header)
			}
			if inv.function != "" {
				t.Errorf("the function %s was invoked for a path the API does not define", inv.function)
			}
		})
	}
}

// Resources are matched literal first, then {variable}, then a greedy
// {variable+}, whose values reach the event's pathParameters.
func TestResourcePrecedenceAndPathParameters(t *testing.T) {
	methods := []apigw.Method{
		{HTTPMethod: "GET", Path: "/items/latest"},
		{HTTPMethod: "GET", Path: "/items/{id}"},
		{HTTPMethod: "ANY", Path: "/{proxy+}"},
		{HTTPMethod: "POST", Path: "/items/{id}"},
	}
	cases := []struct {
		method, path, wantResource string
		wantParams                 map[string]string
	}{
		{"GET", "/staging/items/latest", "/items/latest", nil},
		{"GET", "/staging/items/42", "/items/{id}", map[string]string{"id": "42"}},
		{"POST", "/staging/items/42", "/items/{id}", map[string]string{"id": "42"}},
		{"PUT", "/staging/items/42", "/{proxy+}", map[string]string{"proxy": "items/42"}},
		{"GET", "/staging/a/b/c", "/{proxy+}", map[string]string{"proxy": "a/b/c"}},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			inv := &fakeInvoker{result: proxy(t, 200, "ok", false)}
			srv := newStrictRouter(t, inv, methods...)
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 || inv.event.Resource != tc.wantResource || inv.event.RequestContext.ResourcePath != tc.wantResource {
				t.Fatalf("%s %s = %d, resource %q, want 200 and %q", tc.method, tc.path, resp.StatusCode, inv.event.Resource, tc.wantResource)
			}
			if len(inv.event.PathParameters) != len(tc.wantParams) {
				t.Errorf("pathParameters = %v, want %v", inv.event.PathParameters, tc.wantParams)
			}
			for k, v := range tc.wantParams {
				if inv.event.PathParameters[k] != v {
					t.Errorf("pathParameters = %v, want %v", inv.event.PathParameters, tc.wantParams)
				}
			}
		})
	}
	// The root resource has no method: 403 even with a greedy resource.
	srv := newStrictRouter(t, &fakeInvoker{}, methods...)
	resp, err := http.Get(srv.URL + "/staging/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("GET /staging/ on an API without a root method = %d, want 403", resp.StatusCode)
	}
}

func TestPutAPIAndStageValidation(t *testing.T) {
	r := apigw.New(&fakeInvoker{}, nil)
	for _, a := range []apigw.API{
		{ID: ""},
		{ID: "a", Methods: []apigw.Method{{HTTPMethod: "get", Path: "/"}}},
		{ID: "a", Methods: []apigw.Method{{HTTPMethod: "GET", Path: "items"}}},
		{ID: "a", Methods: []apigw.Method{{HTTPMethod: "GET", Path: "/{proxy+}/x"}}},
		{ID: "a", Methods: []apigw.Method{{HTTPMethod: "GET", Path: "/"}, {HTTPMethod: "GET", Path: "/"}}},
	} {
		if err := r.PutAPI(a); err == nil {
			t.Errorf("PutAPI(%+v) accepted", a)
		}
	}
	if err := r.PutStage(apigw.Stage{Name: "dev", Target: "hello", API: "nope"}); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("PutStage of an API never put = %v, want an error naming it", err)
	}
}
