package config

import (
	"strings"
	"testing"
)

const valid = `{"targets":[{"function":"hello","codeBuildProjects":["hello-build"],
 "strategy":{"type":"canary","percent":10,"bakeSeconds":30},
 "approvers":["ops@example.com"],
 "smokeChecks":[{"name":"says hello","invoke":{"payload":{},"jsonEquals":{"statusCode":200},"bodyContains":"Hello"}},
                {"name":"staging answers","http":{"url":"https://example.com/staging/"}}],
 "health":{"alarms":["hello-prod-errors"],"freshSignal":"logs"}}]}`

func TestParseAppliesDefaults(t *testing.T) {
	c, err := Parse([]byte(valid))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	tg, ok := c.Lookup("hello")
	if !ok {
		t.Fatal("Lookup(hello) found nothing")
	}
	if tg.ApprovalTimeoutSeconds != DefaultApprovalTimeoutSeconds || tg.Health.MaxErrorRate != DefaultMaxErrorRate ||
		tg.SmokeRetries != DefaultSmokeRetries || tg.Health.WindowSeconds != DefaultHealthWindowSeconds {
		t.Errorf("defaults not applied: %+v", tg)
	}
	if got := tg.Approval.RequiredApprovals(); got != 1 {
		t.Errorf("approvals required by default: got %d, want 1", got)
	}
	if got := tg.SmokeChecks[1].HTTP; got.Method != "GET" || got.ExpectStatus != 200 {
		t.Errorf("http defaults: got %s %d, want GET 200", got.Method, got.ExpectStatus)
	}
	if got := c.ForProject("hello-build"); len(got) != 1 || got[0].Function != "hello" {
		t.Errorf("ForProject(hello-build) = %v", got)
	}
	if got := c.Projects(); len(got) != 1 || got[0] != "hello-build" {
		t.Errorf("Projects() = %v", got)
	}
	// Pruning is off unless a target asks for it: deleting versions is
	// never a default.
	if tg.Prune != nil {
		t.Errorf("prune by default = %+v, want off (nil)", tg.Prune)
	}
}

func TestParseNamesTheField(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"no targets", `{"targets":[]}`, "targets: at least one"},
		{"unknown field", `{"targets":[{"function":"a","approvers":["a@b.c"],"stratgy":{}}]}`, `unknown field "stratgy"`},
		{"latest as name", `{"targets":[{"function":"$LATEST","approvers":["a@b.c"]}]}`, "targets[0].function"},
		{"number as name", `{"targets":[{"function":"42","approvers":["a@b.c"]}]}`, "version number"},
		{"arn as name", `{"targets":[{"function":"arn:aws:lambda:us-east-1:1:function:x","approvers":["a@b.c"]}]}`, "not an ARN"},
		{"qualified name", `{"targets":[{"function":"hello:prod","approvers":["a@b.c"]}]}`, "without a qualifier"},
		{"no approvers", `{"targets":[{"function":"a"}]}`, "targets[0].approvers"},
		{"bad approver", `{"targets":[{"function":"a","approvers":["Bob <b@c.d>"]}]}`, "targets[0].approvers[0]"},
		{"principal of no approver", `{"targets":[{"function":"a","approvers":["a@b.c"],"approval":{"principals":{"x@b.c":["arn:aws:iam::123456789012:user/x"]}}}]}`,
			`targets[0].approval.principals["x@b.c"]: "x@b.c" is not one of the approvers`},
		{"principal that is not an ARN", `{"targets":[{"function":"a","approvers":["a@b.c"],"approval":{"principals":{"a@b.c":["alice"]}}}]}`,
			`targets[0].approval.principals["a@b.c"][0]`},
		{"principal with a wildcard", `{"targets":[{"function":"a","approvers":["a@b.c"],"approval":{"principals":{"a@b.c":["arn:aws:iam::123456789012:user/*"]}}}]}`,
			`targets[0].approval.principals["a@b.c"][0]`},
		{"more approvals required than approvers", `{"targets":[{"function":"a","approvers":["a@b.c","b@b.c"],"approval":{"required":3}}]}`,
			`targets[0].approval.required: must be 1–2 (the number of approvers), got 3`},
		{"negative approvals required", `{"targets":[{"function":"a","approvers":["a@b.c"],"approval":{"required":-1}}]}`,
			`targets[0].approval.required: must be 1–1`},
		{"canary percent", `{"targets":[{"function":"a","approvers":["a@b.c"],"strategy":{"type":"canary","percent":150,"bakeSeconds":5}}]}`, "targets[0].strategy.percent"},
		{"canary bake", `{"targets":[{"function":"a","approvers":["a@b.c"],"strategy":{"type":"canary","percent":10}}]}`, "targets[0].strategy.bakeSeconds"},
		{"linear interval", `{"targets":[{"function":"a","approvers":["a@b.c"],"strategy":{"type":"linear","percent":25}}]}`, "targets[0].strategy.intervalSeconds"},
		{"unknown strategy", `{"targets":[{"function":"a","approvers":["a@b.c"],"strategy":{"type":"blue-green"}}]}`, "targets[0].strategy.type"},
		// Issue 20: a plan written out step by step.
		{"steps with a percent", `{"targets":[{"function":"a","approvers":["a@b.c"],"strategy":{"type":"steps","percent":10,"steps":[{"setWeight":{"weight":0.1}},{"analysis":{"bakeSeconds":300}}]}}]}`,
			"targets[0].strategy: steps takes its weights and bakes from strategy.steps"},
		{"steps without a weight", `{"targets":[{"function":"a","approvers":["a@b.c"],"strategy":{"type":"steps","steps":[{"pause":{}}]}}]}`,
			"targets[0].strategy.steps: must set at least one weight"},
		{"steps with a warm of nothing", `{"targets":[{"function":"a","approvers":["a@b.c"],"strategy":{"type":"steps","steps":[{"warm":{"provisionedConcurrency":0}},{"setWeight":{"weight":0.1}},{"analysis":{"bakeSeconds":300}}]}}]}`,
			"targets[0].strategy.steps[0]: warm.provisionedConcurrency must be 1–1000, got 0"},
		{"steps with an unjudged weight", `{"targets":[{"function":"a","approvers":["a@b.c"],"strategy":{"type":"steps","steps":[{"setWeight":{"weight":0.1}},{"pause":{}}]}}]}`,
			"targets[0].strategy.steps[0]: setWeight must be followed by an analysis"},
		{"steps with an unknown step", `{"targets":[{"function":"a","approvers":["a@b.c"],"strategy":{"type":"steps","steps":[{"canary":{"weight":0.1}}]}}]}`,
			`unknown field "canary"`},
		{"steps with a short bake", `{"targets":[{"function":"a","approvers":["a@b.c"],"strategy":{"type":"steps","steps":[{"setWeight":{"weight":0.1}},{"analysis":{"bakeSeconds":60}}]}}]}`,
			"targets[0].strategy.steps: 60 s is shorter than health.metricDelaySeconds"},
		{"a step approver who is no approver", `{"targets":[{"function":"a","approvers":["a@b.c"],"strategy":{"type":"steps","steps":[{"setWeight":{"weight":0.1}},{"analysis":{"bakeSeconds":300}},{"approval":{"approvers":["x@b.c"]}}]}}]}`,
			`targets[0].strategy.steps[2].approval.approvers[0]: "x@b.c" is not one of the approvers`},
		{"steps on a canary", `{"targets":[{"function":"a","approvers":["a@b.c"],"strategy":{"type":"canary","percent":10,"bakeSeconds":300,"steps":[{"pause":{}}]}}]}`,
			"targets[0].strategy.steps: is for the steps strategy; canary makes its own"},
		{"error rate", `{"targets":[{"function":"a","approvers":["a@b.c"],"health":{"maxErrorRate":5}}]}`, "targets[0].health.maxErrorRate"},
		{"short step without a fresh signal", `{"targets":[{"function":"a","approvers":["a@b.c"],"strategy":{"type":"canary","percent":10,"bakeSeconds":60}}]}`, "targets[0].strategy.bakeSeconds: 60 s is shorter than health.metricDelaySeconds"},
		{"short linear step without a fresh signal", `{"targets":[{"function":"a","approvers":["a@b.c"],"strategy":{"type":"linear","percent":10,"intervalSeconds":60}}]}`, "targets[0].strategy.intervalSeconds"},
		{"short step on logs blind to handled errors, bake too short for the metrics", `{"targets":[{"function":"a","approvers":["a@b.c"],"strategy":{"type":"canary","percent":10,"bakeSeconds":30},"health":{"freshSignal":"logs","maxBakeSeconds":120}}]}`,
			`targets[0].strategy.bakeSeconds: 30 s is shorter than health.metricDelaySeconds (240 s) and the logs cannot see handled errors without health.logRuntime, so only the metrics can pass the step: set health.logRuntime to "aws-lambda-go" or "nodejs" (the function's runtime), or health.probes, or health.maxBakeSeconds to at least 330, or bake at least 240 s`},
		{"promote before anything that sees handled errors could judge", `{"targets":[{"function":"a","approvers":["a@b.c"],"strategy":{"type":"canary","percent":10,"bakeSeconds":300},"health":{"maxBakeSeconds":400,"onInconclusive":"promote"}}]}`,
			`targets[0].health.onInconclusive: promote would let a step through before any source that sees handled errors could judge it (the metrics need a bake of 600 s, health.maxBakeSeconds is 400): set health.maxBakeSeconds to at least 600`},
		{"latency guard judged by probes alone", `{"targets":[{"function":"a","approvers":["a@b.c"],"strategy":{"type":"canary","percent":10,"bakeSeconds":30},"health":{"probes":20,"maxBakeSeconds":120,"maxP99LatencyRatio":2}}]}`,
			`targets[0].health.maxP99LatencyRatio: needs a source that sees durations to judge a 30 s step, shorter than health.metricDelaySeconds (240 s): set health.freshSignal to "logs"`},
		{"unknown log runtime", `{"targets":[{"function":"a","approvers":["a@b.c"],"health":{"freshSignal":"logs","logRuntime":"python"}}]}`, `targets[0].health.logRuntime: must be "aws-lambda-go", "nodejs" or absent, got "python"`},
		{"log runtime without the logs", `{"targets":[{"function":"a","approvers":["a@b.c"],"health":{"logRuntime":"nodejs"}}]}`, `targets[0].health.logRuntime: is read only by health.freshSignal "logs"`},
		{"more bakes than the execution history holds", `{"targets":[{"function":"a","approvers":["a@b.c"],"strategy":{"type":"linear","percent":1,"intervalSeconds":60},"health":{"freshSignal":"logs","metricDelaySeconds":3600}}]}`,
			`targets[0].strategy.intervalSeconds: 99 steps of 60 s leave each step 14 bakes within Step Functions' 25000-event execution history, fewer than the 63 its evidence needs (the metrics, 3600 s late)`},
		{"zero metric delay", `{"targets":[{"function":"a","approvers":["a@b.c"],"health":{"metricDelaySeconds":-1}}]}`, "targets[0].health.metricDelaySeconds"},
		{"unknown fresh signal", `{"targets":[{"function":"a","approvers":["a@b.c"],"health":{"freshSignal":"xray"}}]}`, "targets[0].health.freshSignal"},
		{"unknown inconclusive policy", `{"targets":[{"function":"a","approvers":["a@b.c"],"health":{"onInconclusive":"wait"}}]}`, "targets[0].health.onInconclusive"},
		{"max bake below the step", `{"targets":[{"function":"a","approvers":["a@b.c"],"strategy":{"type":"canary","percent":10,"bakeSeconds":300},"health":{"maxBakeSeconds":100}}]}`, "targets[0].health.maxBakeSeconds"},
		{"check without kind", `{"targets":[{"function":"a","approvers":["a@b.c"],"smokeChecks":[{"name":"x"}]}]}`, "targets[0].smokeChecks[0]: needs invoke"},
		{"check url", `{"targets":[{"function":"a","approvers":["a@b.c"],"smokeChecks":[{"name":"x","http":{"url":"ftp://x"}}]}]}`, "targets[0].smokeChecks[0].http.url"},
		{"duplicate function", `{"targets":[{"function":"a","approvers":["a@b.c"]},{"function":"a","approvers":["a@b.c"]}]}`, "targets[1].function"},
		{"prune keeping nothing", `{"targets":[{"function":"a","approvers":["a@b.c"],"prune":{"keepLast":0}}]}`,
			"targets[0].prune.keepLast: must be at least 1 (the newest published version is always kept), got 0"},
		{"prune keeping a negative count", `{"targets":[{"function":"a","approvers":["a@b.c"],"prune":{"keepLast":-3}}]}`, "targets[0].prune.keepLast"},
		{"prune with a misspelt field", `{"targets":[{"function":"a","approvers":["a@b.c"],"prune":{"keep":5}}]}`, `unknown field "keep"`},
		{"malformed json", `{"targets":[`, "config:"},
		{"repository not https", `{"targets":[{"function":"a","approvers":["a@b.c"],"repository":{"commitUrl":"javascript:alert(1)//{commit}"}}]}`, "targets[0].repository.commitUrl"},
		{"repository without placeholder", `{"targets":[{"function":"a","approvers":["a@b.c"],"repository":{"commitUrl":"https://github.com/acme/a/commit/"}}]}`, "lacks {commit}"},
		{"compare without to", `{"targets":[{"function":"a","approvers":["a@b.c"],"repository":{"commitUrl":"https://x.test/c/{commit}","compareUrl":"https://x.test/compare/{from}"}}]}`, "lacks {to}"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc))
			if err == nil {
				t.Fatalf("Parse accepted %s", tc.doc)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

// TestParseSteps: a "steps" strategy is a plan written out in the
// settings; its analyses without criteria are judged by the health
// settings, and its bakes set the default maximum bake.
func TestParseSteps(t *testing.T) {
	doc := `{"targets":[{"function":"a","approvers":["a@b.c"],"strategy":{"type":"steps","steps":[
		{"setWeight":{"weight":0.1}},{"analysis":{"bakeSeconds":300}},{"pause":{}},
		{"setWeight":{"weight":0.5}},{"analysis":{"bakeSeconds":600,"test":"binomial","maxErrorRate":0.01,"minInvocations":500}}]},
		"health":{"maxErrorRate":0.02,"minInvocations":50}}]}`
	c, err := Parse([]byte(doc))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	tg, _ := c.Lookup("a")
	p := tg.Strategy.Plan(tg.Health)
	if got, want := p.String(), "10% → analysis 5m → pause until continued → 50% → analysis 10m → 100%"; got != want {
		t.Errorf("plan = %q, want %q", got, want)
	}
	if a := p.Steps[1].Analysis; a.MaxErrorRate != 0.02 || a.MinInvocations != 50 || a.Test != "binomial" {
		t.Errorf("steps[1] = %+v, want the health criteria", *a)
	}
	if a := p.Steps[4].Analysis; a.MaxErrorRate != 0.01 || a.MinInvocations != 500 {
		t.Errorf("steps[4] = %+v, want its own criteria", *a)
	}
	if got := tg.Strategy.StepCount(); got != 2 {
		t.Errorf("StepCount = %d, want the 2 weights", got)
	}
	if want := 600 + DefaultMetricDelaySeconds + 120; tg.Health.MaxBakeSeconds != max(DefaultMaxBakeSeconds, want) {
		t.Errorf("maxBakeSeconds = %d, want the longest bake's %d", tg.Health.MaxBakeSeconds, max(DefaultMaxBakeSeconds, want))
	}
}

func TestRepositoryLinks(t *testing.T) {
	r := &Repository{CommitURL: "https://github.com/acme/orders/commit/{commit}", CompareURL: "https://github.com/acme/orders/compare/{from}...{to}"}
	tests := []struct {
		name, got, want string
	}{
		{"commit", r.Commit("abc123"), "https://github.com/acme/orders/commit/abc123"},
		{"no commit", r.Commit(""), ""},
		{"escaped", r.Commit("a/b?c"), "https://github.com/acme/orders/commit/a%2Fb%3Fc"},
		{"compare", r.Compare("111", "222"), "https://github.com/acme/orders/compare/111...222"},
		{"compare same", r.Compare("111", "111"), ""},
		{"compare unknown", r.Compare("", "222"), ""},
		{"no repository", (*Repository)(nil).Commit("abc"), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
}

// Lambda function names: 1 to 64 letters, digits, hyphens or underscores
// (CreateFunction, FunctionName); aliasflow also refuses ARNs, qualifiers,
// $LATEST and all-digit names (those read as versions).
func TestValidateFunctionName(t *testing.T) {
	long := strings.Repeat("a", 64)
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"hello", true}, {"my_fn-2", true}, {"A", true}, {long, true}, {"v2", true},
		{"", false}, {long + "a", false}, {"12", false}, {"hello world", false}, {"héllo", false},
		{"hello.js", false}, {"hello:prod", false}, {"$LATEST", false},
		{"arn:aws:lambda:us-east-1:123456789012:function:hello", false},
	} {
		err := ValidateFunctionName(tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateFunctionName(%q) = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}

// TestCriteriaSaysWhatSeesHandledErrors: the approval page tells the
// approver which evidence can pass a step.
func TestCriteriaSaysWhatSeesHandledErrors(t *testing.T) {
	tests := []struct {
		name string
		h    Health
		want string
	}{
		{"logs with the runtime's line", Health{FreshSignal: FreshSignalLogs, LogRuntime: LogRuntimeNode}, "the nodejs runtime's error line, so handled errors count"},
		{"logs without it", Health{FreshSignal: FreshSignalLogs}, "not handled errors, so only the CloudWatch metrics can pass a step"},
		{"metrics only", Health{}, "Evidence: the CloudWatch metrics, taken as complete"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.h.Criteria(); !strings.Contains(got, tc.want) {
				t.Errorf("Criteria() = %q, want it to contain %q", got, tc.want)
			}
		})
	}
}
