package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/sandbox"
	"github.com/aliasflow/aliasflow/sandbox/core"
	"github.com/aliasflow/aliasflow/sandbox/local"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// cdkOut is the cloud assembly whose templates give each pipeline Lambda
// of every world its role's policies: the sandbox evaluates their calls as
// IAM would, so a permission the CDK app lacks fails a scenario.
var cdkOut string

// synthesize runs the pinned CDK CLI on the CDK app into a temporary
// directory, as `make synth` does (the Lambda assets are the bootstraps
// in binDir: the templates' policies do not depend on them), unless
// ALIASFLOW_CDK_OUT names an assembly already synthesized, or make
// build-local synthesized it with binDir (binDir/templates).
func synthesize() (dir string, cleanup func(), err error) {
	if d := os.Getenv("ALIASFLOW_CDK_OUT"); d != "" {
		return d, func() {}, nil
	}
	if d := filepath.Join(binDir, "templates"); fileExists(filepath.Join(d, "manifest.json")) {
		return d, func() {}, nil
	}
	root, err := filepath.Abs("..")
	if err != nil {
		return "", nil, err
	}
	cdk := filepath.Join(root, "node_modules", ".bin", "cdk")
	if _, err := os.Stat(cdk); err != nil {
		return "", nil, fmt.Errorf("the end-to-end tests synthesize the CDK app with %s: run `make tools` (npm ci) first", cdk)
	}
	dir, err = os.MkdirTemp("", "aliasflow-e2e-cdkout-")
	if err != nil {
		return "", nil, err
	}
	cleanup = func() { os.RemoveAll(dir) }
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, cdk, "synth", "--no-notices", "--quiet", "-o", dir, "-c", "assetDir="+binDir,
		// The GitHub Actions release role of one repository (aliasflow-ci).
		"-c", "githubRepository="+ciRepository)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20", "CDK_DISABLE_CLI_TELEMETRY=true")
	if out, err := cmd.CombinedOutput(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("cdk synth: %v\n%s", err, out)
	}
	return dir, cleanup, nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// iamTally gathers the IAM decisions of every world the scenarios ran.
var iamTally struct {
	mu       sync.Mutex
	allowed  int
	denied   []string
	byAction map[string]int
	// byPrincipal counts decisions by kind of principal (principalKind).
	byPrincipal map[string]int
	// byServiceTarget counts a service principal's decisions by the
	// function (and qualifier) it invoked: API Gateway's for hello's
	// stages and for the approval page, EventBridge's for the release.
	byServiceTarget map[string]int
	unexpect        []string
}

// serviceTarget names a service principal's decision by the function
// invoked ("apigateway.amazonaws.com → hello:stg"); "" for a role's.
func serviceTarget(d sandbox.IAMDecision) string {
	if !strings.HasSuffix(d.Principal, ".amazonaws.com") {
		return ""
	}
	_, fn, ok := strings.Cut(d.Request.Resource, ":function:")
	if !ok {
		fn = d.Request.Resource
	}
	return d.Principal + " → " + fn
}

// principalKind sorts a decision's principal: a function's role session,
// a state machine's execution role (its Task states' Lambda calls), or a
// service principal (EventBridge's deliveries to Lambda).
func principalKind(p string) string {
	switch {
	case strings.HasPrefix(p, "arn:aws:sts::"):
		return "function-role"
	case strings.HasPrefix(p, "arn:aws:iam::") && strings.Contains(p, ":role/"):
		return "state-machine-role"
	}
	return p
}

// countIAM adds a closed world's decisions to the tally; a denial in a
// world that did not expect one is reported by TestMain as a failure.
func countIAM(t *testing.T, sb *sandbox.Sandbox, expectDenials bool) {
	iamTally.mu.Lock()
	defer iamTally.mu.Unlock()
	if iamTally.byAction == nil {
		iamTally.byAction = map[string]int{}
		iamTally.byPrincipal = map[string]int{}
		iamTally.byServiceTarget = map[string]int{}
	}
	for _, d := range sb.IAMDecisions() {
		iamTally.byAction[d.Request.Action]++
		iamTally.byPrincipal[principalKind(d.Principal)]++
		if st := serviceTarget(d); st != "" {
			iamTally.byServiceTarget[st]++
		}
		if d.Allowed {
			iamTally.allowed++
			continue
		}
		msg := fmt.Sprintf("%s: %s %s", t.Name(), d.Request.Action, d.Request.Resource)
		iamTally.denied = append(iamTally.denied, msg)
		if !expectDenials {
			iamTally.unexpect = append(iamTally.unexpect, msg)
		}
	}
}

// reportIAM prints the decisions of the run and writes them to
// $ALIASFLOW_ARTIFACTS/e2e/iam-decisions.json; it fails when a scenario
// that expected none was denied.
func reportIAM() error {
	iamTally.mu.Lock()
	defer iamTally.mu.Unlock()
	actions := make([]string, 0, len(iamTally.byAction))
	for a, n := range iamTally.byAction {
		actions = append(actions, fmt.Sprintf("%s=%d", a, n))
	}
	sort.Strings(actions)
	principals := make([]string, 0, len(iamTally.byPrincipal))
	for k, n := range iamTally.byPrincipal {
		principals = append(principals, fmt.Sprintf("%s=%d", k, n))
	}
	sort.Strings(principals)
	targets := make([]string, 0, len(iamTally.byServiceTarget))
	for k, n := range iamTally.byServiceTarget {
		targets = append(targets, fmt.Sprintf("%s=%d", k, n))
	}
	sort.Strings(targets)
	summary := fmt.Sprintf("IAM decisions evaluated against the synthesized templates: %d allowed, %d denied (%s) by principal (%s); services' invocations (%s)",
		iamTally.allowed, len(iamTally.denied), strings.Join(actions, " "), strings.Join(principals, " "), strings.Join(targets, ", "))
	fmt.Fprintln(os.Stderr, "e2e:", summary)
	if root := os.Getenv("ALIASFLOW_ARTIFACTS"); root != "" {
		b, _ := json.MarshalIndent(map[string]any{"allowed": iamTally.allowed, "denied": iamTally.denied, "byAction": iamTally.byAction, "byPrincipal": iamTally.byPrincipal, "byServiceTarget": iamTally.byServiceTarget}, "", "  ")
		if err := os.MkdirAll(filepath.Join(root, "e2e"), 0o755); err == nil {
			_ = os.WriteFile(filepath.Join(root, "e2e", "iam-decisions.json"), b, 0o644)
			_ = os.WriteFile(filepath.Join(root, "e2e", "iam-decisions.txt"), []byte(summary+"\n"), 0o644)
		}
	}
	if len(iamTally.unexpect) > 0 {
		return fmt.Errorf("calls denied by the CDK app's IAM policies:\n  %s", strings.Join(iamTally.unexpect, "\n  "))
	}
	return nil
}

// TestIAMMissingPermission takes lambda:UpdateAlias out of the shift
// role's policy in a copy of the synthesized templates: the promotion that
// passes with the real templates now stops at the shift, whose call is
// answered AccessDeniedException with AWS's wording ("Troubleshoot access
// denied error messages", IAM User Guide), and prod does not move.
func TestIAMMissingPermission(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	removed := 0
	paths, _ := filepath.Glob(filepath.Join(cdkOut, "*.template.json"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var tpl map[string]any
		if err := json.Unmarshal(b, &tpl); err != nil {
			t.Fatal(err)
		}
		for id, r := range tpl["Resources"].(map[string]any) {
			res := r.(map[string]any)
			if res["Type"] != "AWS::IAM::Policy" || !strings.Contains(id, "Shift") {
				continue
			}
			doc := res["Properties"].(map[string]any)["PolicyDocument"].(map[string]any)
			for _, st := range doc["Statement"].([]any) {
				sm := st.(map[string]any)
				acts, ok := sm["Action"].([]any)
				if !ok {
					continue
				}
				kept := slices.DeleteFunc(slices.Clone(acts), func(a any) bool { return a == "lambda:UpdateAlias" })
				removed += len(acts) - len(kept)
				sm["Action"] = kept
			}
		}
		out, _ := json.Marshal(tpl)
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(p)), out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if removed == 0 {
		t.Fatalf("no statement of the shift role's policy in %s grants lambda:UpdateAlias: the test has nothing to remove", cdkOut)
	}
	s := startScenarioWith(t, nil, "", dir, true)
	s.wantAliases("1", "1")
	p := s.merge(helloV2, "c0ffee9")
	s.approveByLink(p, approver)
	out := s.waitDone(p, stepTimeout)
	if out.Status == sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("the promotion succeeded without lambda:UpdateAlias for the shift role")
	}
	s.wantAliases("2", "1")
	var denied []string
	for _, d := range s.world().Sandbox().IAMDecisions() {
		if !d.Allowed {
			denied = append(denied, d.Request.Action+" "+d.Request.Resource)
			if d.Request.Action != "lambda:UpdateAlias" || !strings.HasSuffix(d.Principal, "/aliasflow-shift") {
				t.Errorf("denied %s on %s as %s, want only lambda:UpdateAlias as the shift function", d.Request.Action, d.Request.Resource, d.Principal)
			}
		}
	}
	if len(denied) == 0 {
		t.Fatal("no call was denied")
	}
	// The services' own Lambda calls were evaluated too, and allowed by the
	// real templates: the promotion's Task states as the state machine's
	// execution role, the build event's delivery to aliasflow-release by
	// its resource-based policy for the rule aliasflow-build-hello, and the
	// approval page's GET and POST by aliasflow-approval's for the API's
	// stage v1.
	byKind := map[string]int{}
	for _, d := range s.world().Sandbox().IAMDecisions() {
		if d.Allowed && d.Request.Action == "lambda:InvokeFunction" {
			byKind[principalKind(d.Principal)]++
		}
	}
	if byKind["state-machine-role"] == 0 || byKind["events.amazonaws.com"] == 0 || byKind["apigateway.amazonaws.com"] < 2 {
		t.Errorf("allowed lambda:InvokeFunction decisions by principal: %v; want some by the state machine's role, by events.amazonaws.com and (GET and POST of the approval page) by apigateway.amazonaws.com", byKind)
	}
	// hello's stages belong to hello's API as the CDK app's do, so API
	// Gateway's invocations of hello are evaluated against hello's
	// resource-based policy too: the smoke check's GET /staging/ is allowed
	// for stg by the permission whose source is hello/staging/GET/.
	byTarget := map[string]int{}
	for _, d := range s.world().Sandbox().IAMDecisions() {
		if d.Allowed {
			byTarget[serviceTarget(d)]++
		}
	}
	if byTarget["apigateway.amazonaws.com → hello:stg"] == 0 || byTarget["apigateway.amazonaws.com → "+local.ApprovalFunction] < 2 {
		t.Errorf("allowed service invocations by function: %v; want API Gateway's of hello:stg (the staging smoke check) and of %s (the approval page)", byTarget, local.ApprovalFunction)
	}
	// What the shift function was answered reaches the execution's history.
	events, err := s.history(p.arn)
	if err != nil {
		t.Fatal(err)
	}
	hist, _ := json.Marshal(events)
	want := fmt.Sprintf("User: arn:aws:sts::%s:assumed-role/AliasflowPipeline-AliasflowShiftRole", core.Account)
	tail := "/aliasflow-shift is not authorized to perform: lambda:UpdateAlias on resource: arn:aws:lambda:us-east-1:000000000000:function:hello because no identity-based policy allows the lambda:UpdateAlias action"
	if !strings.Contains(string(hist), want) || !strings.Contains(string(hist), tail) || !strings.Contains(string(hist), "AccessDeniedException") {
		t.Errorf("the execution's history does not carry Lambda's AccessDeniedException with AWS's message (%q ... %q):\n%s", want, tail, hist)
	}
}

// TestHelloAPIAsTheCDKApp: hello's API on the sandbox is the CDK app's,
// one method, GET on each stage's root. Each stage answers its alias, API
// Gateway's invocation of that alias allowed by the permission the sample
// stack gives it for <api>/<stage>/GET/; a path the API does not define,
// such as /staging/hello, is answered 403 Missing Authentication Token
// ("Gateway response types for API Gateway", MISSING_AUTHENTICATION_TOKEN,
// https://docs.aws.amazon.com/apigateway/latest/developerguide/supported-gateway-response-types.html)
// and invokes nothing.
func TestHelloAPIAsTheCDKApp(t *testing.T) {
	t.Parallel()
	s := startScenario(t, nil, "")
	for _, stage := range []string{"dev", "staging", "production"} {
		if v := s.get("/" + stage + "/"); v == "error" {
			t.Errorf("GET /%s/ did not answer hello", stage)
		}
	}
	before := len(s.world().Sandbox().IAMDecisions())
	for _, c := range []struct{ method, path string }{{"GET", "/staging/hello"}, {"POST", "/production/"}} {
		req, _ := http.NewRequestWithContext(s.ctx, c.method, s.ep+c.path, nil)
		resp, err := s.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || strings.TrimSpace(string(body)) != `{"message":"Missing Authentication Token"}` {
			t.Errorf("%s %s = %d %s, want 403 Missing Authentication Token", c.method, c.path, resp.StatusCode, body)
		}
	}
	decisions := s.world().Sandbox().IAMDecisions()
	if len(decisions) != before {
		t.Errorf("requests for paths the API does not define were evaluated: %+v", decisions[before:])
	}
	allowed := map[string]bool{}
	for _, d := range decisions {
		if d.Allowed && d.Request.Context["aws:SourceArn"] != nil {
			allowed[serviceTarget(d)+" for "+d.Request.Context["aws:SourceArn"][0]] = true
		}
	}
	for stage, alias := range local.HelloStages {
		want := fmt.Sprintf("apigateway.amazonaws.com → hello:%s for arn:aws:execute-api:%s:%s:%s/%s/GET/", alias, core.Region, core.Account, local.HelloAPI, stage)
		if !allowed[want] {
			t.Errorf("no allowed decision %q among %v", want, allowed)
		}
	}
}
