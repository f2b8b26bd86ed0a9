package release

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	lambdasvc "github.com/aliasflow/aliasflow/sandbox/lambda"
	"github.com/aliasflow/aliasflow/sandbox/sandboxtest"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/metrics"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

// groupConfig: orders, payments, users, cart and stock form group "api";
// solo is in no group; web is in group "web".
const groupConfig = `{"targets":[
 {"function":"cart","group":"api","approvers":["ana@example.com"],"strategy":{"type":"canary","percent":10,"bakeSeconds":300}},
 {"function":"stock","group":"api","approvers":["ana@example.com"],"strategy":{"type":"canary","percent":10,"bakeSeconds":300}},
 {"function":"orders","group":"api","codeBuildProjects":["api-build"],"approvers":["ana@example.com"],"strategy":{"type":"canary","percent":10,"bakeSeconds":300}},
 {"function":"payments","group":"api","codeBuildProjects":["api-build"],"approvers":["ana@example.com"],"strategy":{"type":"canary","percent":10,"bakeSeconds":300},"smokeRetries":4},
 {"function":"users","group":"api","codeBuildProjects":["api-build"],"approvers":["ana@example.com"],"strategy":{"type":"canary","percent":10,"bakeSeconds":300}},
 {"function":"solo","approvers":["ana@example.com"]},
 {"function":"web","group":"web","approvers":["ana@example.com"],"strategy":{"type":"canary","percent":10,"bakeSeconds":300}}]}`

var groupFunctions = []string{"cart", "orders", "payments", "solo", "stock", "users", "web"}

// newGroupWorld is newWorld for the functions of groupConfig: each with
// versions 1 and 2, version 2 on stg and prod, and a new build in $LATEST
// (but for those unchanged, whose $LATEST is version 2's code); shas holds
// each $LATEST's CodeSha256.
func newGroupWorld(t *testing.T, cfgDoc string, unchanged ...string) (*world, map[string]string) {
	t.Helper()
	cfg, err := config.Parse([]byte(cfgDoc))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	w := &world{t: t, cfg: cfg, calls: &callLog{}, logs: &syncBuffer{}, emf: &syncBuffer{}, clock: &tickingClock{now: worldTime}}
	w.lambda = sandboxtest.NewLambda(t, func(o *lambdasvc.Options) { o.Clock, o.PublishDuration = w.clock.Now, time.Nanosecond })
	shas := map[string]string{}
	for _, fn := range groupFunctions {
		shas[fn] = w.lambda.AddFunction(t, fn, 2)
		w.lambda.SetAlias(t, fn, "stg", "2", nil)
		w.lambda.SetAlias(t, fn, "prod", "2", nil)
		if !slices.Contains(unchanged, fn) {
			shas[fn] = w.lambda.Deploy(t, fn)
		}
	}
	w.states = sandboxtest.NewPromotion(t, sandboxtest.Unanswered())
	observe := sandboxtest.Observe(w.observe)
	fns := lambda.New(w.lambda.Client.Options(), func(o *lambda.Options) { o.APIOptions = append(o.APIOptions, observe) })
	sf := sfn.New(w.states.SFN.Options(), func(o *sfn.Options) { o.APIOptions = append(o.APIOptions, observe) })
	w.builds = sandboxtest.NewCodeBuild(t)
	builds := codebuild.New(w.builds.Client.Options(), func(o *codebuild.Options) { o.APIOptions = append(o.APIOptions, observe) })
	w.bus = sandboxtest.NewEvents(t)
	bus := eventbridge.New(w.bus.Client.Options(), func(o *eventbridge.Options) { o.APIOptions = append(o.APIOptions, observe) })
	log := slog.New(slog.NewJSONHandler(w.logs, nil))
	now := func() time.Time { return worldTime }
	w.h = New(w.cfg, smARN, fns, sf, builds, audit.New(log, bus, &audit.Options{Now: now}), metrics.New(w.emf, now),
		&Options{Log: log, Sleep: func(_ context.Context, d time.Duration) error {
			w.slept = append(w.slept, d)
			w.clock.Advance(d)
			return nil
		}})
	return w, shas
}

// groupEvent is a Release Requested event naming fns with their code.
func groupEvent(t *testing.T, shas map[string]string, fns ...string) []byte {
	t.Helper()
	var members []map[string]string
	for _, fn := range fns {
		members = append(members, map[string]string{"function": fn, "codeSha256": shas[fn]})
	}
	return releaseEvent(t, map[string]any{"functions": members, "commit": commit, "requestedBy": "ben@example.com"})
}

func releaseEvent(t *testing.T, detail map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"version": "0", "id": "6a7e8feb", "detail-type": "Release Requested", "source": "aliasflow",
		"account": "123456789012", "time": "2026-03-02T16:20:00Z", "region": "us-east-1", "resources": []string{}, "detail": detail})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// aliasOf is the version fn's alias name serves ("" when none) and its RevisionId.
func (w *world) aliasOf(fn, name string) (version, revision string) {
	w.t.Helper()
	a, ok := w.lambda.Alias(w.t, fn, name)
	if !ok {
		return "", ""
	}
	return aws.ToString(a.FunctionVersion), aws.ToString(a.RevisionId)
}

func groupMembers(shas map[string]string, fns ...string) []promotion.Member {
	var out []promotion.Member
	for _, fn := range fns {
		out = append(out, promotion.Member{Function: fn, Version: "3", Release: promotion.Release{CodeSha256: shas[fn]}})
	}
	return out
}

// TestHandleGroupRelease: one request naming three members of a group
// publishes each, moves each stg, and starts ONE execution, named for the
// group, whose input lists every member with its version, previous stg,
// release (its commit) and target; one audit record per alias move, each
// carrying the group.
func TestHandleGroupRelease(t *testing.T) {
	w, shas := newGroupWorld(t, groupConfig)
	// Named out of order: the members are sorted by function.
	res, calls, err := w.handle(groupEvent(t, shas, "users", "orders", "payments"))
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	fns := []string{"orders", "payments", "users"}
	name := promotion.GroupExecutionName("api", groupMembers(shas, fns...))
	arn := promotion.ExecutionARN(smARN, name)
	if res.Outcome != Started || res.Execution != arn || res.Group == nil || res.Group.Name != "api" || len(res.Group.Members) != 3 {
		t.Fatalf("result = %+v (group %+v), want started %s with three members", res, res.Group, arn)
	}
	if got := w.executions(); got != 1 {
		t.Errorf("executions = %d, want 1", got)
	}
	ex, ok := w.execution(name)
	if !ok {
		t.Fatalf("no execution %s", name)
	}
	var in promotion.Input
	if err := json.Unmarshal([]byte(aws.ToString(ex.Input)), &in); err != nil {
		t.Fatal(err)
	}
	if in.Group != "api" || len(in.Members) != 3 || in.Function != "orders" || in.Version != "3" {
		t.Fatalf("input group %q, function %s v%s, %d members; want api, orders v3, 3", in.Group, in.Function, in.Version, len(in.Members))
	}
	for i, fn := range fns {
		m := in.Members[i]
		stg, rev := w.aliasOf(fn, "stg")
		prod, _ := w.aliasOf(fn, "prod")
		target, _ := w.cfg.Lookup(fn)
		want := promotion.Member{Function: fn, Version: "3", PreviousStgVersion: "2", StgRevision: rev, Target: *target,
			Release: promotion.Release{Commit: commit, CodeSha256: shas[fn], RequestedBy: "ben@example.com", Source: SourceAliasflow}}
		if got, want := jsonOf(t, m), jsonOf(t, want); got != want {
			t.Errorf("member %d\n got %s\nwant %s", i, got, want)
		}
		if stg != "3" || prod != "2" {
			t.Errorf("%s: stg %s, prod %s; want stg 3, prod 2", fn, stg, prod)
		}
	}
	recs := w.audits()
	var moves []audit.Record
	for _, r := range recs {
		if r.Execution != arn || r.Group != "api" {
			t.Errorf("record %s of %s: execution %q group %q, want %s and api", r.Event, r.Function, r.Execution, r.Group, arn)
		}
		if r.Event == audit.AliasMoved {
			moves = append(moves, r)
		}
	}
	if len(moves) != 3 || len(recs) != 6 {
		t.Errorf("%d records, %d alias moves; want 6 and 3 (one published and one moved per member)", len(recs), len(moves))
	}
	if len(in.Announce) != len(recs) {
		t.Errorf("input announces %d records, %d logged; want the same", len(in.Announce), len(recs))
	}
	// The budget: three calls a member (publish, aliases, stg) and one
	// start, with each version Active at its first read.
	t.Logf("calls for a group of 3: %d %v", len(calls), calls)
	if got, max := len(calls), 3*4+1; got > max {
		t.Errorf("%d calls for a group of three, want at most %d: %v", got, max, calls)
	}
}

// TestHandleGroupDuplicate: the same event again (EventBridge delivers at
// least once) finds every stg moved by the group's execution and answers
// with the existing execution; nothing moves again, nothing is recorded
// again.
func TestHandleGroupDuplicate(t *testing.T) {
	w, shas := newGroupWorld(t, groupConfig)
	ev := groupEvent(t, shas, "orders", "payments", "users")
	first, _, err := w.handle(ev)
	if err != nil || first.Outcome != Started {
		t.Fatalf("first Handle = %+v, %v; want started", first, err)
	}
	before := len(w.audits())
	tests := []struct{ name string }{{"second delivery"}, {"third delivery"}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, calls, err := w.handle(ev)
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if res.Outcome != Duplicate || res.Execution != first.Execution {
				t.Errorf("result = %+v, want duplicate of %s", res, first.Execution)
			}
			// PublishVersion of code a version has is that version again.
			if got := mutating(calls); countOf(got, "UpdateAlias") != 0 || countOf(got, "StartExecution") != 1 {
				t.Errorf("mutating calls = %v, want no alias move and one idempotent StartExecution", got)
			}
			t.Logf("calls of a duplicate: %v", calls)
			if got := w.executions(); got != 1 {
				t.Errorf("executions = %d, want 1", got)
			}
			if got := len(w.audits()); got != before {
				t.Errorf("%d audit records, want %d (a duplicate records nothing)", got, before)
			}
		})
	}
}

// TestHandleGroupUnchangedMember: a member whose $LATEST is the code prod
// runs is left out of the promotion (nothing of it would move), and the
// result names it; when no member changed, nothing is released.
func TestHandleGroupUnchangedMember(t *testing.T) {
	tests := []struct {
		name      string
		unchanged []string
		wantOut   Outcome
		wantIn    []string
	}{
		{"one unchanged", []string{"payments"}, Started, []string{"orders", "users"}},
		{"all unchanged", []string{"orders", "payments", "users"}, Refused, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, shas := newGroupWorld(t, groupConfig, tt.unchanged...)
			res, _, err := w.handle(groupEvent(t, shas, "orders", "payments", "users"))
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if res.Outcome != tt.wantOut {
				t.Fatalf("outcome = %s (%s), want %s", res.Outcome, res.Reason, tt.wantOut)
			}
			for _, fn := range tt.unchanged {
				if stg, _ := w.aliasOf(fn, "stg"); stg != "2" {
					t.Errorf("%s: stg = %s, want 2 (unchanged, not moved)", fn, stg)
				}
			}
			if tt.wantOut != Started {
				if got := w.executions(); got != 0 {
					t.Errorf("executions = %d, want none", got)
				}
				return
			}
			if got := res.Group.Unchanged; !slices.Equal(got, tt.unchanged) {
				t.Errorf("unchanged = %v, want %v", got, tt.unchanged)
			}
			name := promotion.GroupExecutionName("api", groupMembers(shas, tt.wantIn...))
			ex, ok := w.execution(name)
			if !ok {
				t.Fatalf("no execution %s", name)
			}
			var in promotion.Input
			if err := json.Unmarshal([]byte(aws.ToString(ex.Input)), &in); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range in.Members {
				got = append(got, m.Function)
			}
			if !slices.Equal(got, tt.wantIn) {
				t.Errorf("members = %v, want %v", got, tt.wantIn)
			}
		})
	}
}

// TestHandleGroupMemberBusy: a member already in a running promotion — its
// own, or another group's — refuses the whole group before anything
// moves, naming the member and the execution.
func TestHandleGroupMemberBusy(t *testing.T) {
	tests := []struct {
		name string
		// running starts the promotion in the way, and returns its name.
		running func(w *world, shas map[string]string) string
	}{
		{"the member's own promotion", func(w *world, shas map[string]string) string {
			return w.runningPromotion(promotion.Input{Function: "payments", Version: "1"})
		}},
		{"another group's promotion", func(w *world, shas map[string]string) string {
			return w.runningPromotion(promotion.Input{Function: "payments", Version: "1", Group: "billing",
				Members: []promotion.Member{{Function: "payments", Version: "1"}, {Function: "ledger", Version: "4"}}})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, shas := newGroupWorld(t, groupConfig)
			// The promotion in the way moved payments' stg to its version.
			w.lambda.SetAlias(t, "payments", "stg", "1", nil)
			busy := tt.running(w, shas)
			res, calls, err := w.handle(groupEvent(t, shas, "orders", "payments", "users"))
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if res.Outcome != Refused || !strings.Contains(res.Reason, "payments") || !strings.Contains(res.Reason, busy) {
				t.Errorf("result = %+v, want refused naming payments and %s", res, busy)
			}
			if got := mutating(calls); slices.Contains(got, "UpdateAlias") || slices.Contains(got, "StartExecution") {
				t.Errorf("mutating calls = %v, want no alias move and no start", got)
			}
			for _, fn := range []string{"orders", "users"} {
				if stg, _ := w.aliasOf(fn, "stg"); stg != "2" {
					t.Errorf("%s: stg = %s, want 2 (nothing moves)", fn, stg)
				}
			}
			recs := w.audits()
			if len(recs) != 1 || recs[0].Event != audit.ReleaseRefused || recs[0].Group != "api" || recs[0].Function != "payments" {
				t.Errorf("audit = %+v, want one release.refused of payments in group api", recs)
			}
		})
	}
}

// runningPromotion starts an execution of in awaiting approval, named as
// the release names it (a group's when in names a group).
func (w *world) runningPromotion(in promotion.Input) string {
	w.t.Helper()
	name := promotion.ExecutionName(in.Function, in.Version, sha1)
	if in.Group != "" {
		name = promotion.GroupExecutionName(in.Group, in.Members)
	}
	in.Release = promotion.Release{CodeSha256: sha1, Source: SourceAliasflow}
	return promotion.ExecutionNameOf(w.states.Start(w.t, name, in))
}

// TestHandleGroupRefusals: a request that cannot be released as one group
// is refused, naming what is wrong, and nothing moves: not even a version
// is published.
func TestHandleGroupRefusals(t *testing.T) {
	_, shas := newGroupWorld(t, groupConfig)
	member := func(fn string) map[string]string { return map[string]string{"function": fn, "codeSha256": shas[fn]} }
	tests := []struct {
		name   string
		detail map[string]any
		want   string
	}{
		{"bad member name", map[string]any{"functions": []any{member("orders"), map[string]string{"function": "pay:ments", "codeSha256": shas["orders"]}}},
			`functions[1] (pay:ments): function: "pay:ments": give the function name without a qualifier`},
		{"unknown member", map[string]any{"functions": []any{member("orders"), map[string]string{"function": "ghost", "codeSha256": shas["orders"]}}},
			`functions[1] (ghost): `},
		{"member without code", map[string]any{"functions": []any{member("orders"), map[string]string{"function": "users"}}},
			`functions[1] (users): codeSha256: missing`},
		{"named twice", map[string]any{"functions": []any{member("orders"), member("orders")}}, `functions[1]: "orders" is named twice`},
		{"member in no group", map[string]any{"functions": []any{member("orders"), member("solo")}}, `"solo" is in no group`},
		{"members of two groups", map[string]any{"functions": []any{member("orders"), member("web")}}, `member "web" is in group "web", not "api"`},
		{"functions beside function", map[string]any{"functions": []any{member("orders")}, "function": "users", "codeSha256": shas["users"]}, "not both"},
		{"no functions", map[string]any{"functions": []any{}}, "functions: name at least one function"},
		{"unknown member field", map[string]any{"functions": []any{map[string]string{"function": "orders", "codeSha256": shas["orders"], "version": "3"}}}, `unknown field "version"`},
		{"retry of a group", map[string]any{"functions": []any{member("orders"), member("users")}, "retry": true}, "cannot be retried yet"},
		{"too many", map[string]any{"functions": slices.Repeat([]any{member("orders")}, MaxGroupMembers+1)}, fmt.Sprintf("at most %d", MaxGroupMembers)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, _ := newGroupWorld(t, groupConfig)
			res, calls, err := w.handle(releaseEvent(t, tt.detail))
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if res.Outcome != Refused || !strings.Contains(res.Reason, tt.want) {
				t.Errorf("result = %+v, want refused saying %q", res, tt.want)
			}
			if got := mutating(calls); len(got) != 0 {
				t.Errorf("mutating calls = %v, want none", got)
			}
		})
	}
}

// TestHandleGroupDisagreeingSettings: members read one by one from the
// store may disagree (each parameter is written alone): the release
// refuses the group naming the member and the field.
func TestHandleGroupDisagreeingSettings(t *testing.T) {
	doc := strings.Replace(groupConfig, `"smokeRetries":4}`, `"smokeRetries":4,"approvalTimeoutSeconds":60}`, 1)
	if _, err := config.Parse([]byte(doc)); err == nil {
		t.Fatalf("the targets file should already refuse it")
	}
	// The store serves each target as it was written.
	w, shas := newGroupWorld(t, groupConfig)
	target, _ := w.cfg.Lookup("payments")
	target.ApprovalTimeoutSeconds = 60
	res, calls, err := w.handle(groupEvent(t, shas, "orders", "payments"))
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	want := `member "payments" differs from "orders" in approvalTimeoutSeconds`
	if res.Outcome != Refused || !strings.Contains(res.Reason, want) {
		t.Errorf("result = %+v, want refused saying %q", res, want)
	}
	if got := mutating(calls); len(got) != 0 {
		t.Errorf("mutating calls = %v, want none", got)
	}
}

// TestGroupReleaseBudget measures a group of five against five single
// releases of the same functions: the group costs one StartExecution, not
// five, and its fresh release stays within four calls a member and one.
func TestGroupReleaseBudget(t *testing.T) {
	fns := []string{"cart", "orders", "payments", "stock", "users"}
	w, shas := newGroupWorld(t, groupConfig)
	_, group, err := w.handle(groupEvent(t, shas, fns...))
	if err != nil {
		t.Fatal(err)
	}
	singles, _ := newGroupWorld(t, groupConfig)
	var separate []string
	for _, fn := range fns {
		res, calls, err := singles.handle(releaseEvent(t, map[string]any{"function": fn, "codeSha256": shas[fn], "commit": commit}))
		if err != nil || res.Outcome != Started {
			t.Fatalf("single release of %s = %+v, %v", fn, res, err)
		}
		if len(calls) > 6 {
			t.Errorf("single release of %s: %d calls, budget 6: %v", fn, len(calls), calls)
		}
		separate = append(separate, calls...)
	}
	t.Logf("group of 5: %d calls (%d StartExecution); 5 single releases: %d calls (%d StartExecution)",
		len(group), countOf(group, "StartExecution"), len(separate), countOf(separate, "StartExecution"))
	if len(group) >= len(separate) || len(group) > 4*len(fns)+1 || countOf(group, "StartExecution") != 1 {
		t.Errorf("group of 5: %d calls %v; want fewer than the %d of 5 single releases, at most %d, one StartExecution",
			len(group), group, len(separate), 4*len(fns)+1)
	}
}

// TestHandleSingleReleaseOfAGroupMember: a release of one function that a
// running group promotion moves is refused, naming that promotion, and
// nothing moves — the group is never half-superseded; a function the
// group does not hold is released as ever.
func TestHandleSingleReleaseOfAGroupMember(t *testing.T) {
	tests := []struct {
		name    string
		fn      string
		wantOut Outcome
	}{
		{"a member", "payments", Refused},
		{"not a member", "orders", Started},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, shas := newGroupWorld(t, groupConfig)
			// The group's promotion moved payments' stg; orders' stg is off
			// prod too (a rejected release), so both releases list the
			// running promotions.
			w.lambda.SetAlias(t, "payments", "stg", "1", nil)
			w.lambda.SetAlias(t, "orders", "stg", "1", nil)
			busy := w.runningPromotion(promotion.Input{Function: "payments", Version: "1", Group: "api",
				Members: []promotion.Member{{Function: "payments", Version: "1"}, {Function: "users", Version: "1"}}})
			res, calls, err := w.handle(releaseEvent(t, map[string]any{"function": tt.fn, "codeSha256": shas[tt.fn], "commit": commit}))
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if res.Outcome != tt.wantOut {
				t.Fatalf("outcome = %s (%s), want %s", res.Outcome, res.Reason, tt.wantOut)
			}
			if tt.wantOut != Refused {
				return
			}
			if !strings.Contains(res.Reason, busy) || !strings.Contains(res.Reason, "running group promotion") {
				t.Errorf("reason = %q, want it to name the group's promotion %s", res.Reason, busy)
			}
			if got := mutating(calls); slices.Contains(got, "UpdateAlias") || slices.Contains(got, "StartExecution") || slices.Contains(got, "StopExecution") {
				t.Errorf("mutating calls = %v, want no move, start or stop", got)
			}
			if stg, _ := w.aliasOf(tt.fn, "stg"); stg != "1" {
				t.Errorf("stg = %s, want 1 (nothing moves)", stg)
			}
		})
	}
}

// groupBuildEvent is a SUCCEEDED build of project api-build that exported
// vars (none: the event lacks them, BatchGetBuilds has them).
func groupBuildEvent(t *testing.T, vars map[string]string) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(readFile(t, "testdata/codebuild-succeeded.json"), &ev); err != nil {
		t.Fatal(err)
	}
	detail := ev["detail"].(map[string]any)
	detail["project-name"] = "api-build"
	detail["build-id"] = "arn:aws:codebuild:us-east-1:123456789012:build/" + groupBuildID
	var exported []map[string]string
	for k, v := range vars {
		exported = append(exported, map[string]string{"name": k, "value": v})
	}
	detail["additional-information"].(map[string]any)["exported-environment-variables"] = exported
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const groupBuildID = "api-build:0b6f2a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"

// TestHandleGroupBuild: one CodeBuild build of a group's project that
// exported ALIASFLOW_FUNCTIONS (function=codeSha256 pairs) starts one group
// promotion, as a release request naming them does; what cannot be that
// build's group release is refused and nothing moves.
func TestHandleGroupBuild(t *testing.T) {
	pairs := func(shas map[string]string, fns ...string) string {
		var out []string
		for _, fn := range fns {
			out = append(out, fn+"="+shas[fn])
		}
		return strings.Join(out, " ")
	}
	tests := []struct {
		name string
		vars func(shas map[string]string) map[string]string
		// lookup: the event carries no variables; BatchGetBuilds has them.
		lookup     bool
		wantOut    Outcome
		wantReason string
	}{
		{name: "three members", vars: func(shas map[string]string) map[string]string {
			return map[string]string{VarFunctions: pairs(shas, "users", "orders", "payments"), VarCommit: commit}
		}, wantOut: Started},
		{name: "three members, read from the build", lookup: true, vars: func(shas map[string]string) map[string]string {
			return map[string]string{VarFunctions: pairs(shas, "orders", "payments", "users")}
		}, wantOut: Started},
		{name: "beside ALIASFLOW_FUNCTION", vars: func(shas map[string]string) map[string]string {
			return map[string]string{VarFunctions: pairs(shas, "orders", "payments"), VarFunction: "orders"}
		}, wantOut: Refused, wantReason: "not both"},
		{name: "a member the project does not release", vars: func(shas map[string]string) map[string]string {
			return map[string]string{VarFunctions: pairs(shas, "orders", "cart")}
		}, wantOut: Refused, wantReason: `ALIASFLOW_FUNCTIONS[1] (cart): CodeBuild project "api-build" does not release function "cart"`},
		{name: "not a pair", vars: func(shas map[string]string) map[string]string {
			return map[string]string{VarFunctions: "orders=" + shas["orders"] + " payments"}
		}, wantOut: Refused, wantReason: "entry 2 is payments; want function=codeSha256 pairs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, shas := newGroupWorld(t, groupConfig)
			vars := tt.vars(shas)
			event, id := groupBuildEvent(t, vars), groupBuildID
			if tt.lookup {
				id = w.build("api-build", "codebuild-webhook", vars)
				event = bytes.ReplaceAll(groupBuildEvent(t, nil), []byte(groupBuildID), []byte(id))
			}
			res, calls, err := w.handle(event)
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if res.Outcome != tt.wantOut || !strings.Contains(res.Reason, tt.wantReason) {
				t.Fatalf("result = %s %q, want %s saying %q", res.Outcome, res.Reason, tt.wantOut, tt.wantReason)
			}
			if tt.wantOut != Started {
				if got := mutating(calls); len(got) != 0 {
					t.Errorf("mutating calls = %v, want none", got)
				}
				return
			}
			name := promotion.GroupExecutionName("api", groupMembers(shas, "orders", "payments", "users"))
			ex, ok := w.execution(name)
			if !ok {
				t.Fatalf("no execution %s", name)
			}
			var in promotion.Input
			if err := json.Unmarshal([]byte(aws.ToString(ex.Input)), &in); err != nil {
				t.Fatal(err)
			}
			for _, m := range in.Members {
				r := m.Release
				if r.Build != id || r.Source != SourceCodeBuild || r.VerifiedBy != "codebuild-webhook" || r.Commit != commit || r.CodeSha256 != shas[m.Function] {
					t.Errorf("%s's release = %+v, want the build's, its own code and the commit", m.Function, r)
				}
			}
		})
	}
}

// TestHandleGroupLateDuplicate: the event again after the group's
// promotion ended and put a member's stg back (its smoke test failed): the
// duplicate moves that stg (it cannot know before), meets the closed
// execution, and puts it back — stg is not left on a version no promotion
// owns; the move and the put-back are audited with the group.
func TestHandleGroupLateDuplicate(t *testing.T) {
	w, shas := newGroupWorld(t, groupConfig)
	ev := groupEvent(t, shas, "orders", "payments", "users")
	first, _, err := w.handle(ev)
	if err != nil || first.Outcome != Started {
		t.Fatalf("first Handle = %+v, %v; want started", first, err)
	}
	// The promotion ended; its RestoreStg put payments' stg back on 2.
	if _, err := w.states.SFN.StopExecution(context.Background(), &sfn.StopExecutionInput{ExecutionArn: aws.String(first.Execution)}); err != nil {
		t.Fatal(err)
	}
	w.lambda.SetAlias(t, "payments", "stg", "2", nil)
	before := len(w.audits())
	res, _, err := w.handle(ev)
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if res.Outcome != Duplicate || !strings.Contains(res.Reason, "stg put back for payments") {
		t.Errorf("result = %s %q, want duplicate putting payments' stg back", res.Outcome, res.Reason)
	}
	if stg, _ := w.aliasOf("payments", "stg"); stg != "2" {
		t.Errorf("payments' stg = %s, want 2 (put back)", stg)
	}
	for _, fn := range []string{"orders", "users"} {
		if stg, _ := w.aliasOf(fn, "stg"); stg != "3" {
			t.Errorf("%s's stg = %s, want 3 (the ended promotion's, not touched)", fn, stg)
		}
	}
	var got []string
	for _, r := range w.audits()[before:] {
		if r.Group != "api" {
			t.Errorf("record %s of %s has group %q, want api", r.Event, r.Function, r.Group)
		}
		got = append(got, fmt.Sprintf("%s %s %s→%s", r.Event, r.Function, r.FromVersion, r.ToVersion))
	}
	if want := []string{"alias.moved payments 2→3", "alias.moved payments 3→2"}; !slices.Equal(got, want) {
		t.Errorf("records = %v, want %v", got, want)
	}
}
