package shift_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/core"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/plan"
	"github.com/aliasflow/aliasflow/shared/promotion"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

// The group of these tests: three functions, each with versions 1…5,
// released together as version 5 of each over a stable version 4.
var groupMembers = []string{"a", "b", "c"}

const groupExecution = "arn:aws:states:us-east-1:000000000000:execution:aliasflow-promotion:api-g0badcafe"

// groupRequest is the testdata set-weight payload turned into a group
// promotion of a, b and c (a first, as Input says), at step, each member's
// stable version as stables says ("" for none).
func groupRequest(t *testing.T, action string, step int, stables map[string]string) promotion.TaskRequest {
	t.Helper()
	req := request(t, action, step)
	req.Execution = groupExecution
	base := req.Promotion
	var ms []promotion.Member
	for _, f := range groupMembers {
		tg := base.Target
		tg.Function = f
		tg.Health.Alarms = []string{f + "-prod-errors"}
		tg.Health.MetricDelaySeconds = 60
		ms = append(ms, promotion.Member{Function: f, Version: "5", PreviousStgVersion: "4", Release: base.Release, Target: tg})
	}
	req.Promotion.Function, req.Promotion.Target = "a", ms[0].Target
	req.Promotion.Group, req.Promotion.Members = "api", ms
	req.Promotion.Shift.Prod = groupProdDoc(stables)
	return req
}

// groupProdDoc is a group's Shift.Prod as begin writes it: each member's
// stable version (prod as last written unknown, so each move reads it).
func groupProdDoc(stables map[string]string) string {
	type member struct {
		Stable string `json:"stable"`
	}
	doc := struct {
		Members map[string]member `json:"members"`
	}{Members: map[string]member{}}
	for fn, v := range stables {
		doc.Members[fn] = member{Stable: v}
	}
	b, _ := json.Marshal(doc)
	return string(b)
}

func allStable(v string) map[string]string {
	return map[string]string{"a": v, "b": v, "c": v}
}

// groupEnv is an env with the group's functions, stg on 5 and each
// member's prod as prods says ("4", "4 + 5@0.25"; "-" for none).
func groupEnv(t *testing.T, prods map[string]string) *env {
	t.Helper()
	e := newEnv(t)
	for _, f := range groupMembers {
		e.lam.AddFunction(t, f, 5)
		e.lam.SetAlias(t, f, "stg", "5", nil)
		e.cw.alarms[f+"-prod-errors"] = fakeAlarm{state: cwtypes.StateValueOk}
		e.setProd(f, prods[f])
	}
	return e
}

// setProd points prod of f as spec says: "4", "4 + 5@0.25", "-" (none).
func (e *env) setProd(f, spec string) {
	e.t.Helper()
	if spec == "-" || spec == "" {
		return
	}
	version, weighted, ok := strings.Cut(spec, " + ")
	var weights map[string]float64
	if ok {
		v, w, _ := strings.Cut(weighted, "@")
		var f float64
		if _, err := fmt.Sscan(w, &f); err != nil {
			e.t.Fatalf("prod spec %q: %v", spec, err)
		}
		weights = map[string]float64{v: f}
	}
	e.lam.SetAlias(e.t, f, "prod", version, weights)
}

func same(spec string) map[string]string {
	return map[string]string{"a": spec, "b": spec, "c": spec}
}

// prods renders every member's prod as e.alias does, "a=4 b=4 c=4".
func (e *env) prods() string {
	e.t.Helper()
	var out []string
	for _, f := range groupMembers {
		out = append(out, f+"="+e.aliasOf(f, "prod"))
	}
	return strings.Join(out, " ")
}

func (e *env) aliasOf(f, name string) string {
	e.t.Helper()
	a, ok := e.lam.Alias(e.t, f, name)
	if !ok {
		return "-"
	}
	s := *a.FunctionVersion
	if a.RoutingConfig != nil {
		for v, w := range a.RoutingConfig.AdditionalVersionWeights {
			s += " + " + v + "@" + trim(w)
		}
	}
	return s
}

// groupSummary renders records as "function event alias from>to @weight"
// and checks each names the group and the execution.
func groupSummary(t *testing.T, recs []audit.Record) []string {
	t.Helper()
	out := []string{}
	for _, r := range recs {
		if r.Group != "api" || r.Execution != groupExecution {
			t.Errorf("record %s of %s: group %q, execution %q; want api and %s", r.Event, r.Function, r.Group, r.Execution, groupExecution)
		}
		s := fmt.Sprintf("%s %s %s %s>%s", r.Function, r.Event, r.Alias, r.FromVersion, r.ToVersion)
		if r.Weight != nil {
			s += " @" + trim(*r.Weight)
		}
		out = append(out, s)
	}
	return out
}

func wantGroupRecords(t *testing.T, e *env, want []string) []audit.Record {
	t.Helper()
	recs := e.audits(t)
	if got := groupSummary(t, recs); !slices.Equal(got, want) {
		t.Errorf("audit records:\n got %q\nwant %q", got, want)
	}
	return recs
}

// rollbackAfter runs the Rollback the definition's Catch goes to after
// err, and checks every member is back on version 4 with no routing.
func rollbackAfter(t *testing.T, e *env, req promotion.TaskRequest, err error) {
	t.Helper()
	req.Action, req.TaskToken = promotion.ActionRollback, ""
	name := errorName(err)
	if name == "go error" {
		name = "States.TaskFailed" // the runtime names it by its Go type
	}
	req.Promotion.Failure = &promotion.Failure{Error: name, Cause: `{"errorMessage":` + quote(message(err)) + `}`}
	if s := req.Promotion.Shift; s != nil && s.Kind == string(plan.KindPause) {
		// The harness reaches Rollback through a step's bake.
		cp := *s
		cp.Kind = string(plan.KindSetWeight)
		req.Promotion.Shift = &cp
	}
	if s := req.Promotion.Shift; s != nil && s.Done {
		// A failed Finalize is caught as a SetWeight is; the harness
		// reaches Rollback through a step.
		cp := *s
		cp.Done, cp.Step, cp.Weight = false, len(req.Promotion.Steps)-1, req.Promotion.Steps[len(req.Promotion.Steps)-1].Weight
		req.Promotion.Shift = &cp
	}
	if _, err := e.run(req); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	if got, want := e.prods(), "a=4 b=4 c=4"; got != want {
		t.Errorf("prod after rollback: %s, want %s (every member on its stable version, no routing)", got, want)
	}
}

func TestGroupBegin(t *testing.T) {
	tests := []struct {
		name      string
		prods     map[string]string
		stg       map[string]string // stg other than 5
		wantErr   string
		wantKind  string
		wantDone  bool
		wantStabl map[string]string
	}{
		{name: "every member on a stable version shifts by the plan", prods: same("4"),
			wantKind: "setWeight", wantStabl: allStable("4")},
		{name: "a member without prod gets it at finalize", prods: map[string]string{"a": "4", "b": "-", "c": "4"},
			wantKind: "setWeight", wantStabl: map[string]string{"a": "4", "b": "", "c": "4"}},
		{name: "a member already on its version stays", prods: map[string]string{"a": "4", "b": "5", "c": "4"},
			wantKind: "setWeight", wantStabl: map[string]string{"a": "4", "b": "5", "c": "4"}},
		{name: "no member to weight moves all at once", prods: map[string]string{"a": "-", "b": "5", "c": "-"},
			wantKind: "finalize", wantDone: true, wantStabl: map[string]string{"a": "", "b": "5", "c": ""}},
		{name: "a member superseded stops the group", prods: same("4"), stg: map[string]string{"c": "4"},
			wantErr: promotion.ErrSuperseded},
		{name: "a member's prod mid-shift waits", prods: map[string]string{"a": "4", "b": "3 + 4@0.5", "c": "4"},
			wantErr: promotion.ErrProdBusy},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := groupEnv(t, tc.prods)
			for f, v := range tc.stg {
				e.lam.SetAlias(t, f, "stg", v, nil)
			}
			req := groupRequest(t, promotion.ActionBegin, 0, nil)
			req.Promotion.Shift = nil
			before := e.prods()
			got, err := e.run(req)
			if tc.wantErr != "" {
				wantErrorName(t, err, tc.wantErr)
			} else if err != nil {
				t.Fatalf("begin: %v", err)
			}
			if e.prods() != before {
				t.Errorf("prod = %s after begin, want %s (begin moves nothing)", e.prods(), before)
			}
			if tc.wantErr != "" {
				return
			}
			if got.Kind != tc.wantKind || got.Done != tc.wantDone {
				t.Errorf("begin = kind %q done %v, want %q %v", got.Kind, got.Done, tc.wantKind, tc.wantDone)
			}
			if got.StableVersion != tc.wantStabl["a"] {
				t.Errorf("stableVersion = %q, want the first member's %q", got.StableVersion, tc.wantStabl["a"])
			}
			var doc struct {
				Members map[string]struct {
					Stable string `json:"stable"`
					Prod   string `json:"prod"`
				} `json:"members"`
			}
			if err := json.Unmarshal([]byte(got.Prod), &doc); err != nil {
				t.Fatalf("shift.prod %q: %v", got.Prod, err)
			}
			for _, f := range groupMembers {
				m := doc.Members[f]
				if m.Stable != tc.wantStabl[f] {
					t.Errorf("stable version of %s = %q, want %q", f, m.Stable, tc.wantStabl[f])
				}
				if (tc.prods[f] != "-") != strings.Contains(m.Prod, `"revision"`) {
					t.Errorf("prod of %s as read = %q; want its RevisionId when prod exists (%s)", f, m.Prod, tc.prods[f])
				}
			}
		})
	}
}

// TestGroupSetWeight: every weighted member moves to the step's weight,
// each written with its own RevisionId; a failure on the third member puts
// the first two back, and the rollback that follows leaves every member on
// its stable version.
func TestGroupSetWeight(t *testing.T) {
	conflict := core.Errorf("ResourceConflictException", http.StatusConflict, "The operation cannot be performed at this time.")
	tests := []struct {
		name string
		step int
		from string
		// meddle runs before the third UpdateAlias (c's).
		meddle func(e *env)
		// noDoc: the state's shift has no prod (an older definition's
		// ResultSelectors drop it).
		noDoc     bool
		wantErr   bool
		wantProds string
		want      []string
	}{
		{name: "all move in lockstep", step: 0, from: "4", wantProds: "a=4 + 5@0.25 b=4 + 5@0.25 c=4 + 5@0.25",
			want: []string{"a traffic.shifted prod 4>5 @0.25", "b traffic.shifted prod 4>5 @0.25", "c traffic.shifted prod 4>5 @0.25"}},
		{name: "a state without the members' prod (a definition that does not carry it): stable versions read from prod", step: 1, from: "4 + 5@0.25",
			noDoc: true, wantProds: "a=4 + 5@0.5 b=4 + 5@0.5 c=4 + 5@0.5",
			want: []string{"a traffic.shifted prod 4>5 @0.5", "b traffic.shifted prod 4>5 @0.5", "c traffic.shifted prod 4>5 @0.5"}},
		{name: "a member's RevisionId changed, routing the same: read again and moved", step: 1, from: "4 + 5@0.25",
			meddle:    func(e *env) { e.setProd("c", "4 + 5@0.25") },
			wantProds: "a=4 + 5@0.5 b=4 + 5@0.5 c=4 + 5@0.5",
			want:      []string{"a traffic.shifted prod 4>5 @0.5", "b traffic.shifted prod 4>5 @0.5", "c traffic.shifted prod 4>5 @0.5"}},
		{name: "third member rolled back outside: the first two put back", step: 1, from: "4 + 5@0.25",
			meddle: func(e *env) { e.setProd("c", "4") }, wantErr: true,
			wantProds: "a=4 + 5@0.25 b=4 + 5@0.25 c=4",
			want: []string{"a traffic.shifted prod 4>5 @0.5", "b traffic.shifted prod 4>5 @0.5",
				"b alias.moved prod 5>4 @0.25", "a alias.moved prod 5>4 @0.25"}},
		{name: "third member's write refused for now: the first two put back, the retry moves all", step: 0, from: "4",
			meddle: func(e *env) { e.lam.Fail("UpdateAlias", conflict) }, wantErr: true,
			wantProds: "a=4 b=4 c=4",
			want: []string{"a traffic.shifted prod 4>5 @0.25", "b traffic.shifted prod 4>5 @0.25",
				"b alias.moved prod 5>4 @0", "a alias.moved prod 5>4 @0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := groupEnv(t, same(tc.from))
			req := groupRequest(t, promotion.ActionSetWeight, tc.step, allStable("4"))
			if tc.noDoc {
				req.Promotion.Shift.Prod = ""
			}
			if tc.meddle != nil {
				e.lam.Before("UpdateAlias", func() {}, func() {}, func() { tc.meddle(e) })
			}
			got, err := e.run(req)
			if got := e.prods(); got != tc.wantProds {
				t.Errorf("prod after set-weight: %s, want %s", got, tc.wantProds)
			}
			recs := wantGroupRecords(t, e, tc.want)
			if !tc.wantErr {
				if err != nil {
					t.Fatalf("set-weight: %v", err)
				}
				// The next move of each member writes from what this one left.
				var doc struct {
					Members map[string]struct{ Stable, Prod string } `json:"members"`
				}
				if err := json.Unmarshal([]byte(got.Prod), &doc); err != nil {
					t.Fatalf("shift.prod %q: %v", got.Prod, err)
				}
				for _, f := range groupMembers {
					if m := doc.Members[f]; m.Stable != "4" || !strings.Contains(m.Prod, `"revision"`) {
						t.Errorf("shift.prod of %s = %+v, want stable 4 and prod as written with its revision", f, m)
					}
				}
				return
			}
			if err == nil {
				t.Fatalf("set-weight = %+v, want an error", got)
			}
			wantContains(t, "error", message(err), "member c")
			for _, r := range recs[2:] {
				wantContains(t, "undo reason", r.Reason, "c failed to move")
			}
			if errorName(err) == promotion.ErrTransient {
				// The definition retries the task: from where every member
				// stood, it moves them all.
				if _, err := e.run(req); err != nil {
					t.Fatalf("set-weight retried: %v", err)
				}
				w := trim(req.Promotion.Shift.Weight)
				if got, want := e.prods(), fmt.Sprintf("a=4 + 5@%s b=4 + 5@%s c=4 + 5@%s", w, w, w); got != want {
					t.Errorf("prod after the retry: %s, want %s", got, want)
				}
				return
			}
			rollbackAfter(t, e, req, err)
		})
	}
}

// groupHealthEnv is a group at step's weight whose members' metrics are
// as kinds says: "healthy", "unhealthy" or "quiet" (too few calls).
func groupHealthEnv(t *testing.T, step int, kinds map[string]string) (*env, promotion.TaskRequest) {
	t.Helper()
	req := groupRequest(t, promotion.ActionCheckHealth, step, allStable("4"))
	s := req.Promotion.Shift
	s.BakeSeconds, s.BakedSeconds = 120, req.Promotion.Steps[step].BakeSeconds
	e := groupEnv(t, same("4 + 5@"+trim(s.Weight)))
	at := func(ago time.Duration) time.Time { return e.now.Add(-ago) }
	for _, f := range groupMembers {
		e.cw.add(f, "4", "Invocations", at(3*time.Minute), 1000)
		e.cw.add(f, "4", "Errors", at(3*time.Minute), 1)
		switch kinds[f] {
		case "healthy":
			e.cw.add(f, "5", "Invocations", at(4*time.Minute), 120)
			e.cw.add(f, "5", "Invocations", at(2*time.Minute), 80)
			e.cw.add(f, "5", "Errors", at(2*time.Minute), 1)
		case "unhealthy":
			e.cw.add(f, "5", "Invocations", at(2*time.Minute), 20)
			e.cw.add(f, "5", "Errors", at(2*time.Minute), 8)
		case "quiet":
			e.cw.add(f, "5", "Invocations", at(2*time.Minute), 3)
		}
	}
	return e, req
}

func TestGroupCheckHealth(t *testing.T) {
	tests := []struct {
		name     string
		kinds    map[string]string
		wantErr  string
		wantKind string
		want     []string
		reason   string
	}{
		{name: "healthy only when every member is", kinds: same("healthy"), wantKind: "setWeight",
			want: []string{"a health.passed prod 4>5 @0.25", "b health.passed prod 4>5 @0.25", "c health.passed prod 4>5 @0.25"}},
		{name: "the third member unhealthy fails the group, naming it", kinds: map[string]string{"a": "healthy", "b": "healthy", "c": "unhealthy"},
			wantErr: promotion.ErrHealthCheckFailed, reason: "member c (version 5) is unhealthy: metrics: error rate 40%",
			want: []string{"a health.failed prod 4>5 @0.25", "b health.failed prod 4>5 @0.25", "c health.failed prod 4>5 @0.25"}},
		{name: "one member without enough calls is inconclusive", kinds: map[string]string{"a": "healthy", "b": "quiet", "c": "healthy"},
			wantKind: "analysis", reason: "b v5: metrics: 3 invocations of version 5 yet",
			want: []string{"a health.inconclusive prod 4>5 @0.25", "b health.inconclusive prod 4>5 @0.25", "c health.inconclusive prod 4>5 @0.25"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, req := groupHealthEnv(t, 0, tc.kinds)
			got, err := e.run(req)
			recs := wantGroupRecords(t, e, tc.want)
			for _, r := range recs {
				if r.Verdict == nil || len(r.Verdict.Sources) == 0 || r.Verdict.Sources[0].NewVersion != "5" {
					t.Errorf("%s of %s: verdict %+v, want the member's own evidence", r.Event, r.Function, r.Verdict)
				}
			}
			if tc.wantErr != "" {
				wantErrorName(t, err, tc.wantErr)
				wantContains(t, "error", message(err), tc.reason)
				rollbackAfter(t, e, req, err)
				return
			}
			if err != nil {
				t.Fatalf("check-health: %v", err)
			}
			if got.Kind != tc.wantKind {
				t.Errorf("check-health kind = %q, want %q", got.Kind, tc.wantKind)
			}
			if got.Prod != req.Promotion.Shift.Prod {
				t.Errorf("shift.prod = %q, want the members' prod carried (%q)", got.Prod, req.Promotion.Shift.Prod)
			}
			if tc.reason != "" {
				wantContains(t, "verdict", got.Verdict, tc.reason)
			}
		})
	}
}

func TestGroupFinalize(t *testing.T) {
	conflict := core.Errorf("ResourceConflictException", http.StatusConflict, "The operation cannot be performed at this time.")
	tests := []struct {
		name      string
		prods     map[string]string
		stables   map[string]string
		fail      bool
		wantErr   bool
		wantProds string
		want      []string
	}{
		{name: "every member to 100%", prods: same("4 + 5@0.75"), stables: allStable("4"),
			wantProds: "a=5 b=5 c=5",
			want: []string{"a alias.moved prod 4>5", "b alias.moved prod 4>5", "c alias.moved prod 4>5",
				"a promotion.completed prod 4>5", "b promotion.completed prod 4>5", "c promotion.completed prod 4>5"}},
		{name: "a first release's prod created, an unchanged member left", prods: map[string]string{"a": "4 + 5@0.75", "b": "-", "c": "5"},
			stables: map[string]string{"a": "4", "b": "", "c": "5"}, wantProds: "a=5 b=5 c=5",
			want: []string{"a alias.moved prod 4>5", "b alias.moved prod >5",
				"a promotion.completed prod 4>5", "b promotion.completed prod >5", "c promotion.completed prod 5>5"}},
		{name: "third member's write refused for now: the first two put back, the retry moves all", prods: same("4 + 5@0.75"), stables: allStable("4"), fail: true,
			wantErr: true, wantProds: "a=4 + 5@0.75 b=4 + 5@0.75 c=4 + 5@0.75",
			want: []string{"a alias.moved prod 4>5", "b alias.moved prod 4>5",
				"b alias.moved prod 5>4 @0.75", "a alias.moved prod 5>4 @0.75"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := groupEnv(t, tc.prods)
			req := groupRequest(t, promotion.ActionFinalize, 2, tc.stables)
			req.Promotion.Shift.Step, req.Promotion.Shift.Weight, req.Promotion.Shift.Done = 3, 1, true
			if tc.fail {
				e.lam.Before("UpdateAlias", func() {}, func() {}, func() { e.lam.Fail("UpdateAlias", conflict) })
			}
			_, err := e.run(req)
			if (err != nil) != tc.wantErr {
				t.Fatalf("finalize error = %v, want error %v", err, tc.wantErr)
			}
			if got := e.prods(); got != tc.wantProds {
				t.Errorf("prod after finalize: %s, want %s", got, tc.wantProds)
			}
			wantGroupRecords(t, e, tc.want)
			if tc.wantErr {
				// A Conflict is retried: from where every member stood, the
				// retry finalizes them all.
				wantErrorName(t, err, promotion.ErrTransient)
				if _, err := e.run(req); err != nil {
					t.Fatalf("finalize retried: %v", err)
				}
				if got, want := e.prods(), "a=5 b=5 c=5"; got != want {
					t.Errorf("prod after the retry: %s, want %s", got, want)
				}
			}
		})
	}
}

func TestGroupRollbackAndAbort(t *testing.T) {
	tests := []struct {
		name   string
		action string
		prods  map[string]string
		want   []string
	}{
		{name: "rollback returns every member to its stable version", action: promotion.ActionRollback,
			prods: map[string]string{"a": "4 + 5@0.5", "b": "4", "c": "4 + 5@0.5"},
			want: []string{"a alias.moved prod 5>4 @0", "c alias.moved prod 5>4 @0",
				"a promotion.rolled_back prod 5>4", "b promotion.rolled_back prod 5>4", "c promotion.rolled_back prod 5>4"}},
		{name: "abort records every member's promotion aborted", action: promotion.ActionAbort, prods: same("4"),
			want: []string{"a promotion.aborted prod >5", "b promotion.aborted prod >5", "c promotion.aborted prod >5"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := groupEnv(t, tc.prods)
			req := groupRequest(t, tc.action, 1, allStable("4"))
			req.TaskToken = ""
			req.Promotion.Failure = &promotion.Failure{Error: promotion.ErrHealthCheckFailed, Cause: "member c is unhealthy"}
			if _, err := e.run(req); err != nil {
				t.Fatalf("%s: %v", tc.action, err)
			}
			if got, want := e.prods(), "a=4 b=4 c=4"; got != want {
				t.Errorf("prod after %s: %s, want %s", tc.action, got, want)
			}
			wantGroupRecords(t, e, tc.want)
		})
	}
}

func TestGroupRestoreStg(t *testing.T) {
	e := groupEnv(t, same("4"))
	req := groupRequest(t, promotion.ActionRestoreStg, 0, nil)
	req.TaskToken, req.Promotion.Shift = "", nil
	if _, err := e.run(req); err != nil {
		t.Fatalf("restore-stg: %v", err)
	}
	for _, f := range groupMembers {
		if got := e.aliasOf(f, "stg"); got != "4" {
			t.Errorf("stg of %s = %s, want 4", f, got)
		}
	}
	wantGroupRecords(t, e, []string{"a alias.moved stg 5>4", "b alias.moved stg 5>4", "c alias.moved stg 5>4"})
}

func TestGroupInvalidInput(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(p *promotion.State)
		reason string
	}{
		{name: "group name", edit: func(p *promotion.State) { p.Group = "api v2" }, reason: `promotion.group: "api v2" is not a group name`},
		{name: "member twice", edit: func(p *promotion.State) { p.Members[2].Function = "b" }, reason: "promotion.members[2].function: b is a member twice"},
		{name: "member version", edit: func(p *promotion.State) { p.Members[1].Version = "$LATEST" }, reason: `promotion.members[1].version: "$LATEST" is not a published version number`},
		{name: "first member", edit: func(p *promotion.State) { p.Function = "b" }, reason: "promotion.members[0] is a v5, but promotion.function/version say b v5"},
		{name: "stable version", edit: func(p *promotion.State) { p.Shift.Prod = groupProdDoc(map[string]string{"a": "4", "b": "x", "c": "4"}) },
			reason: `the stable version "x" of b is not a published version number`},
		{name: "nothing to weight", edit: func(p *promotion.State) { p.Shift.Prod = groupProdDoc(allStable("5")) },
			reason: "no member of group api has a stable version to shift from"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := groupEnv(t, same("4"))
			req := groupRequest(t, promotion.ActionSetWeight, 0, allStable("4"))
			tc.edit(&req.Promotion)
			_, err := e.run(req)
			wantErrorName(t, err, promotion.ErrInvalidInput)
			wantContains(t, "error", message(err), tc.reason)
			if got, want := e.prods(), "a=4 b=4 c=4"; got != want {
				t.Errorf("prod = %s, want %s (nothing moves)", got, want)
			}
		})
	}
}

// TestGroupContinue: a pause of the plan holds every member where it is;
// continued, the next step carries every member's prod and moves them all;
// not continued in time, every member goes back to its stable version.
func TestGroupContinue(t *testing.T) {
	const ops = "arn:aws:iam::000000000000:user/ops"
	tests := []struct {
		name      string
		bake      *promotion.Bake
		wantErr   string
		wantProds string
	}{
		{name: "continued: the next weight moves every member", bake: &promotion.Bake{PromoteNow: true, Actor: ops},
			wantProds: "a=4 + 5@0.5 b=4 + 5@0.5 c=4 + 5@0.5"},
		{name: "nobody continued: every member rolled back", bake: &promotion.Bake{Error: "States.Timeout"},
			wantErr: promotion.ErrPauseExpired, wantProds: "a=4 b=4 c=4"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := groupEnv(t, same("4 + 5@0.25"))
			req := groupRequest(t, promotion.ActionContinue, 0, allStable("4"))
			req.TaskToken = ""
			req.Promotion.Target.Strategy = pausePlan(plan.Pause{})
			req.Promotion.Steps = promotion.Plan(req.Promotion.Target.Strategy)
			s := req.Promotion.Shift
			s.BakeSeconds, s.Kind, s.Position = 86400, "pause", 2
			req.Promotion.Bake = tc.bake
			got, err := e.run(req)
			if got := e.prods(); got != "a=4 + 5@0.25 b=4 + 5@0.25 c=4 + 5@0.25" {
				t.Errorf("prod after continue: %s; continue moves nothing", got)
			}
			if tc.wantErr != "" {
				wantErrorName(t, err, tc.wantErr)
				rollbackAfter(t, e, req, err)
				return
			}
			if err != nil {
				t.Fatalf("continue: %v", err)
			}
			if got.Kind != "setWeight" || got.Weight != 0.5 || got.Prod != s.Prod {
				t.Fatalf("continue = kind %q at %v with prod %q; want setWeight at 0.5 with the members' prod carried", got.Kind, got.Weight, got.Prod)
			}
			req.Action, req.Promotion.Shift, req.Promotion.Bake = promotion.ActionSetWeight, got, nil
			if _, err := e.run(req); err != nil {
				t.Fatalf("set-weight after the pause: %v", err)
			}
			if got := e.prods(); got != tc.wantProds {
				t.Errorf("prod after the next set-weight: %s, want %s", got, tc.wantProds)
			}
		})
	}
}

// TestGroupRollbackRetried: a member whose prod cannot be moved back fails
// the rollback after the others moved; the retry moves it, and each
// member's rollback is recorded once, when all are back.
func TestGroupRollbackRetried(t *testing.T) {
	e := groupEnv(t, same("4 + 5@0.5"))
	req := groupRequest(t, promotion.ActionRollback, 1, allStable("4"))
	req.TaskToken = ""
	req.Promotion.Failure = &promotion.Failure{Error: promotion.ErrHealthCheckFailed, Cause: "member c is unhealthy"}
	// Someone put b's prod on another version meanwhile.
	e.setProd("b", "3")
	tests := []struct {
		name      string
		fix       func()
		wantErr   bool
		wantProds string
		want      []string
	}{
		{name: "b cannot be moved: a and c are, nothing recorded rolled back", wantErr: true,
			wantProds: "a=4 b=3 c=4",
			want:      []string{"a alias.moved prod 5>4 @0", "c alias.moved prod 5>4 @0"}},
		{name: "retried once b is back in the shift: b moves, each rollback recorded once",
			fix:       func() { e.setProd("b", "4 + 5@0.5") },
			wantProds: "a=4 b=4 c=4",
			want: []string{"a alias.moved prod 5>4 @0", "c alias.moved prod 5>4 @0", "b alias.moved prod 5>4 @0",
				"a promotion.rolled_back prod 5>4", "b promotion.rolled_back prod 5>4", "c promotion.rolled_back prod 5>4"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.fix != nil {
				tc.fix()
			}
			_, err := e.run(req)
			if (err != nil) != tc.wantErr {
				t.Fatalf("rollback error = %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				wantContains(t, "error", message(err), "b: rollback: prod of b is on 3")
			}
			if got := e.prods(); got != tc.wantProds {
				t.Errorf("prod: %s, want %s", got, tc.wantProds)
			}
			wantGroupRecords(t, e, tc.want)
		})
	}
}
