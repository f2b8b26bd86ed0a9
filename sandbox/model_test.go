package sandbox_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/aliasflow/aliasflow/sandbox"
	"github.com/aliasflow/aliasflow/sandbox/model"
	"github.com/aws/smithy-go/encoding/cbor"
)

// projectOperations are the AWS API operations the project calls, by
// SigV4 service, derived from its source (projectCalls): exactly what the
// sandbox serves over HTTP. What only the sandbox's own setup needs
// (topics, subscriptions, rules, targets, alarms, log groups) is its Go
// API, not served. Derived rather than listed, so that adding an operation
// the project calls is written in the service's package alone; the tests
// below then hold the sandbox to serving it.
var projectOperations = projectCalls()

func models(t *testing.T) *model.Models {
	t.Helper()
	m, err := model.Default()
	if err != nil {
		t.Fatalf("AWS API models (botocore) are required: %v", err)
	}
	return m
}

// modelRequest builds the request AWS's model describes for op with input,
// in the service's protocol, signed for service (the sandbox dispatches by
// the credential scope and does not check signatures).
func modelRequest(t *testing.T, svc *model.Service, op *model.Operation, input map[string]any) *http.Request {
	t.Helper()
	var req *http.Request
	switch svc.Protocol {
	case model.ProtoJSON:
		body, _ := json.Marshal(input)
		req = httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-amz-json-"+svc.JSONVersion)
		req.Header.Set("X-Amz-Target", svc.TargetPrefix+"."+op.Name)
	case model.ProtoCBOR:
		req = httptest.NewRequest(http.MethodPost, "/service/"+svc.TargetPrefix+"/operation/"+op.Name, bytes.NewReader(cbor.Encode(toCBOR(input))))
		req.Header.Set("Content-Type", "application/cbor")
		req.Header.Set("Smithy-Protocol", "rpc-v2-cbor")
	case model.ProtoQuery:
		form := url.Values{"Action": {op.Name}}
		for k, v := range input {
			switch v := v.(type) {
			case []any:
				for i, e := range v {
					form.Set(fmt.Sprintf("%s.member.%d", k, i+1), fmt.Sprint(e))
				}
			default:
				form.Set(k, fmt.Sprint(v))
			}
		}
		req = httptest.NewRequest(http.MethodPost, "/", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	case model.ProtoREST:
		path, rawQuery, _ := strings.Cut(op.HTTP.RequestURI, "?")
		q, _ := url.ParseQuery(rawQuery)
		body := map[string]any{}
		var payload []byte
		sh := svc.Shapes[op.Input.Shape]
		for name, ref := range sh.Members {
			wire := ref.LocationName
			if wire == "" {
				wire = name
			}
			v, ok := input[name]
			switch ref.Location {
			case "uri":
				val := "x"
				if ok {
					val = fmt.Sprint(v)
				}
				path = strings.Replace(strings.Replace(path, "{"+wire+"}", url.PathEscape(val), 1), "{"+wire+"+}", url.PathEscape(val), 1)
			case "querystring":
				if ok {
					q.Set(wire, fmt.Sprint(v))
				}
			case "header":
			default:
				if ok && ref.Payload {
					payload = []byte(fmt.Sprint(v))
				} else if ok {
					body[name] = v
				}
			}
		}
		if payload == nil && len(body) > 0 {
			payload, _ = json.Marshal(body)
		}
		req = httptest.NewRequest(op.HTTP.Method, path+"?"+q.Encode(), bytes.NewReader(payload))
		req.Header.Set("Content-Type", "application/json")
	default:
		t.Fatalf("protocol %s", svc.Protocol)
	}
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDMODELTEST/20260101/us-east-1/"+svc.Name+"/aws4_request, SignedHeaders=host, Signature=0")
	return req
}

func toCBOR(v any) cbor.Value {
	switch v := v.(type) {
	case map[string]any:
		m := cbor.Map{}
		for k, e := range v {
			m[k] = toCBOR(e)
		}
		return m
	case []any:
		l := cbor.List{}
		for _, e := range v {
			l = append(l, toCBOR(e))
		}
		return l
	case float64:
		return cbor.Float64(v)
	default:
		return cbor.String(fmt.Sprint(v))
	}
}

// TestSandboxServesExactlyTheProjectsOperationsWithAWSBindings asks each
// service, with the request AWS's model describes (X-Amz-Target for
// awsJson, Action for awsQuery, the rpcv2Cbor path, the method and URI for
// Lambda's restJson1), whether it serves each of the model's operations:
// exactly the project's operations must be served, every other one refused
// loudly, by name.
func TestSandboxServesExactlyTheProjectsOperationsWithAWSBindings(t *testing.T) {
	sb := start(t, sandbox.Options{LambdaUpdateDuration: -1})
	ms := models(t)
	for _, service := range sb.ServiceNames() {
		if _, ok := projectOperations[service]; !ok {
			t.Errorf("the sandbox serves %s, which projectOperations does not list", service)
		}
	}
	for service, want := range projectOperations {
		t.Run(service, func(t *testing.T) {
			svc, err := ms.Service(service)
			if err != nil {
				t.Fatal(err)
			}
			var served []string
			for name, op := range svc.Operations {
				rec := httptest.NewRecorder()
				sb.ServiceHandler(service).ServeHTTP(rec, modelRequest(t, svc, op, map[string]any{}))
				body, _ := io.ReadAll(rec.Result().Body)
				if rec.Code >= 400 && strings.Contains(string(body), "not implement") {
					if !strings.Contains(string(body), name) && !strings.Contains(string(body), "/") {
						t.Errorf("%s refused without naming the operation: %s", name, body)
					}
					continue
				}
				served = append(served, name)
			}
			sort.Strings(served)
			var missing, extra []string
			for _, op := range want {
				if !slices.Contains(served, op) {
					missing = append(missing, op)
				}
			}
			for _, op := range served {
				if !slices.Contains(want, op) {
					extra = append(extra, op)
				}
			}
			if len(missing) > 0 {
				t.Errorf("operations the project calls that the sandbox does not serve through AWS's bindings: %v", missing)
			}
			if len(extra) > 0 {
				t.Errorf("served though nothing in the project calls them: %v", extra)
			}
		})
	}
}

// TestModelConstraintsRefused sends, for every constrained input member of
// every operation the project calls, a value that breaks the constraint
// (generated from AWS's model) and expects AWS's refusal naming the member.
func TestModelConstraintsRefused(t *testing.T) {
	sb := start(t, sandbox.Options{LambdaUpdateDuration: -1})
	ms := models(t)
	cases, refused := 0, 0
	var unchecked []string
	for service, ops := range projectOperations {
		svc, err := ms.Service(service)
		if err != nil {
			t.Fatal(err)
		}
		for _, opName := range ops {
			op := svc.Operations[opName]
			if op == nil || op.Input == nil {
				continue
			}
			in := svc.Shapes[op.Input.Shape]
			for _, c := range breakers(svc, in, nil, 0) {
				if c.constraint == "pattern-unchecked" {
					// RE2 has no look-arounds: the service's own check applies.
					unchecked = append(unchecked, service+" "+opName+" "+c.path)
					continue
				}
				cases++
				t.Run(fmt.Sprintf("%s/%s/%s/%s", service, opName, c.path, c.constraint), func(t *testing.T) {
					rec := httptest.NewRecorder()
					sb.ServeHTTP(rec, modelRequest(t, svc, op, c.input))
					body, _ := io.ReadAll(rec.Result().Body)
					body = append(bytes.ReplaceAll(body, []byte("&#39;"), []byte("'")), rec.Header().Get("X-Amzn-ErrorType")...)
					wantCode := "ValidationException"
					if svc.Protocol == model.ProtoQuery || svc.QueryCompatible {
						wantCode = "ValidationError"
					}
					if rec.Code != http.StatusBadRequest || !bytes.Contains(body, []byte(wantCode)) || !bytes.Contains(body, []byte("at '"+c.path+"'")) {
						t.Errorf("%s with %s broken at %s: HTTP %d %s\nwant 400 %s naming %s", opName, c.constraint, c.path, rec.Code, body, wantCode, c.path)
						return
					}
					refused++
				})
			}
		}
	}
	t.Logf("%d (operation, constraint) cases generated from AWS's models; %d refused as AWS refuses them", cases, refused)
	t.Logf("%d patterns Go's RE2 cannot express, left to the services' own checks: %v", len(unchecked), unchecked)
	if cases < 50 {
		t.Errorf("only %d cases generated: the models were not read", cases)
	}
}

type breaker struct {
	constraint string
	path       string // as AWS names the member: lowerCamel, list items as "name.1.member"
	input      map[string]any
}

// step is one level on the way from the input to a nested member.
type step struct {
	member string
	list   bool // the member is a list: its value goes in as its first item
}

// nest builds the input holding leaf at the end of steps (nil leaf: the
// last member absent, its parent present).
func nest(steps []step, leaf any) map[string]any {
	root := map[string]any{}
	cur := root
	for i, st := range steps {
		last := i == len(steps)-1
		if last {
			if leaf != nil {
				cur[st.member] = leaf
			}
			break
		}
		next := map[string]any{}
		if st.list {
			cur[st.member] = []any{next}
		} else {
			cur[st.member] = next
		}
		cur = next
	}
	return root
}

func awsPath(steps []step) string {
	var parts []string
	for i, st := range steps {
		parts = append(parts, strings.ToLower(st.member[:1])+st.member[1:])
		if st.list && i < len(steps)-1 {
			parts = append(parts, "1", "member")
		}
	}
	return strings.Join(parts, ".")
}

// breakers returns, for every constrained member of the structure sh
// (reached through steps) and of the structures nested in it, inputs that
// each break one constraint.
func breakers(svc *model.Service, sh *model.Shape, steps []step, depth int) []breaker {
	var out []breaker
	if depth > 3 {
		return nil
	}
	for _, member := range sortedKeys(sh.Members) {
		ref := sh.Members[member]
		msh := svc.Shapes[ref.Shape]
		path := append(slices.Clone(steps), step{member: member, list: msh.Type == "list"})
		with := func(c string, v any) {
			out = append(out, breaker{c, awsPath(path), nest(path, v)})
		}
		if slices.Contains(sh.Required, member) && ref.Location != "uri" {
			// nest with a nil leaf leaves the member out, its parent present.
			out = append(out, breaker{"required", awsPath(path), nest(path, nil)})
		}
		if ref.Location == "header" || ref.Payload || (svc.Protocol == model.ProtoQuery && depth > 0) {
			continue
		}
		switch msh.Type {
		case "structure":
			out = append(out, breakers(svc, msh, path, depth+1)...)
		case "string":
			if msh.Min != nil && *msh.Min > 1 {
				with("min length "+num(*msh.Min), strings.Repeat("a", int(*msh.Min)-1))
			} else if msh.Min != nil && *msh.Min == 1 && ref.Location != "uri" {
				with("min length 1", "")
			}
			if msh.Max != nil && *msh.Max < 100000 {
				with("max length "+num(*msh.Max), strings.Repeat("a", int(*msh.Max)+1))
			}
			if len(msh.Enum) > 0 {
				with("enum", "NOT_A_MODEL_ENUM_VALUE")
			}
			if msh.Pattern != "" && !msh.PatternChecked() {
				out = append(out, breaker{constraint: "pattern-unchecked", path: awsPath(path) + " " + msh.Pattern})
			}
			if msh.PatternChecked() {
				for _, cand := range []string{"!", "#!{}", " ", "\t", "a b!", "x!x", "123"} {
					if msh.Min != nil && float64(len(cand)) < *msh.Min || msh.Max != nil && float64(len(cand)) > *msh.Max {
						continue
					}
					if !msh.MatchesPattern(cand) {
						with("pattern", cand)
						break
					}
				}
			}
		case "integer", "long", "float", "double":
			if msh.Min != nil {
				with("min "+num(*msh.Min), *msh.Min-1)
			}
			if msh.Max != nil {
				with("max "+num(*msh.Max), *msh.Max+1)
			}
		case "list":
			if msh.Min != nil && *msh.Min > 0 && ref.Location == "" {
				with("min items "+num(*msh.Min), []any{})
			}
			if msh.Max != nil && *msh.Max < 1000 {
				l := make([]any, int(*msh.Max)+1)
				for i := range l {
					l[i] = map[string]any{}
				}
				with("max items "+num(*msh.Max), l)
			}
			if item := svc.Shapes[msh.Member.Shape]; item.Type == "structure" {
				out = append(out, breakers(svc, item, path, depth+1)...)
			}
		}
	}
	return out
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// projectCalls derives the operations from the project's source — every
// SDK input or paginator type named in shared/, cli/, functions/, bench/,
// e2e/, browser/, sandbox/local, examples/ and cmd/, plus the AWS CLI
// commands of the examples' CodeBuild buildspec and GitHub workflow (`aws
// lambda update-function-code`, `aws lambda wait function-updated-v2`,
// whose waiter polls GetFunction, `aws lambda get-function`) — by SigV4
// service, each sorted. A call it cannot map is recorded in
// projectCallErrors, which TestProjectOperationsAreWhatTheCodeCalls reports.
func projectCalls() map[string][]string {
	service := map[string]string{"lambda": "lambda", "sfn": "states", "eventbridge": "events", "cloudwatch": "monitoring",
		"cloudwatchlogs": "logs", "secretsmanager": "secretsmanager", "sns": "sns", "sts": "sts", "codebuild": "codebuild", "ssm": "ssm"}
	sdkType := regexp.MustCompile(`\b(lambda|sfn|eventbridge|cloudwatch|cloudwatchlogs|secretsmanager|sns|sts|codebuild|ssm)\.(?:New)?([A-Z][A-Za-z0-9]*?)(?:Input|Paginator)\b`)
	found := map[string]map[string]bool{}
	add := func(svc, op string) {
		if found[svc] == nil {
			found[svc] = map[string]bool{}
		}
		found[svc][op] = true
	}
	for _, dir := range []string{"../shared", "../cli", "../functions", "../bench", "../e2e", "../browser", "local", "../examples", "../cmd"} {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
				return err
			}
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, m := range sdkType.FindAllStringSubmatch(string(src), -1) {
				add(service[m[1]], m[2])
			}
			return nil
		})
		if err != nil {
			projectCallErrors = append(projectCallErrors, err.Error())
		}
	}
	// The AWS CLI commands of the examples' CodeBuild buildspec and GitHub
	// workflow: `aws <service> <command>`, a waiter naming the operation it
	// polls ("function-updated-v2" polls GetFunction, AWS CLI reference).
	cliService := map[string]string{"lambda": "lambda", "events": "events", "stepfunctions": "states", "cloudwatch": "monitoring",
		"logs": "logs", "sns": "sns", "sts": "sts", "codebuild": "codebuild", "ssm": "ssm", "secretsmanager": "secretsmanager"}
	waiters := map[string]string{"lambda function-updated-v2": "GetFunction", "lambda function-updated": "GetFunctionConfiguration"}
	cliCall := regexp.MustCompile(`\baws ([a-z0-9]+) ([a-z0-9-]+)(?: ([a-z0-9-]+))?`)
	for _, file := range []string{"../examples/codebuild/buildspec.yml", "../examples/github-actions/release.yml"} {
		src, err := os.ReadFile(file)
		if err != nil {
			projectCallErrors = append(projectCallErrors, err.Error())
			continue
		}
		for _, m := range cliCall.FindAllStringSubmatch(string(src), -1) {
			svc, ok := cliService[m[1]]
			if !ok {
				projectCallErrors = append(projectCallErrors, fmt.Sprintf("%s: `aws %s %s`: a service this test does not map", file, m[1], m[2]))
				continue
			}
			if m[2] == "wait" {
				op, ok := waiters[m[1]+" "+m[3]]
				if !ok {
					projectCallErrors = append(projectCallErrors, fmt.Sprintf("%s: `aws %s wait %s`: a waiter this test does not map", file, m[1], m[3]))
				}
				add(svc, op)
				continue
			}
			op := ""
			for _, w := range strings.Split(m[2], "-") {
				op += strings.ToUpper(w[:1]) + w[1:]
			}
			add(svc, op)
		}
	}
	// The codebuild package's RunInput is the sandbox CodeBuild's Go API,
	// not an AWS operation.
	delete(found["codebuild"], "Run")
	out := map[string][]string{}
	for svc, ops := range found {
		out[svc] = sortedKeys(ops)
	}
	return out
}

// projectCallErrors are the calls projectCalls could not map.
var projectCallErrors []string

// TestProjectOperationsAreWhatTheCodeCalls checks that every call found in
// the project's source maps to a service, and that every service the
// sandbox serves is one the project calls.
func TestProjectOperationsAreWhatTheCodeCalls(t *testing.T) {
	for _, e := range projectCallErrors {
		t.Error(e)
	}
	sb := start(t, sandbox.Options{LambdaUpdateDuration: -1})
	for _, svc := range sb.ServiceNames() {
		if len(projectOperations[svc]) == 0 {
			t.Errorf("the sandbox serves %s, but nothing in the project calls it", svc)
		}
	}
}
