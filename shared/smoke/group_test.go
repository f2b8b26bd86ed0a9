package smoke_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/aliasflow/aliasflow/sandbox/core"
	"github.com/aliasflow/aliasflow/sandbox/sandboxtest"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/aws"
)

// groupRequest is the testdata request made a group's: hello (version 5,
// its testdata checks) and orders (version 2, one invoke check that looks
// for orderBody), each with its own release commit.
func groupRequest(t *testing.T, e *env, orderBody string) promotion.TaskRequest {
	t.Helper()
	req := request(t, config.SmokeCheck{Name: "greets", TimeoutSeconds: 5, Invoke: invoke("", nil, "Hello")})
	hello := promotion.Member{Function: "hello", Version: "5", PreviousStgVersion: "4", Release: req.Promotion.Release, Target: req.Promotion.Target}
	orders := hello
	orders.Function, orders.Version, orders.PreviousStgVersion = "orders", "2", "1"
	orders.Release.Commit = "9e8d7c6"
	orders.Target.Function = "orders"
	orders.Target.SmokeChecks = []config.SmokeCheck{{Name: "lists orders", TimeoutSeconds: 5, Invoke: invoke("", nil, orderBody)}}
	req.Promotion.Group, req.Promotion.Members = "api", []promotion.Member{hello, orders}
	e.lam.AddFunction(t, "orders", 2)
	e.lam.SetAlias(t, "orders", "stg", "2", nil)
	e.lam.Code("orders", func(_ context.Context, c sandboxtest.Call) (core.InvokeResult, error) {
		return core.InvokeResult{Payload: []byte(`{"statusCode":200,"body":"orders of version ` + c.Version + `"}`)}, nil
	})
	return req
}

// TestGroupSmoke: a group's smoke test runs every member's own checks
// against that member's stg; the checks are named by member, one failing
// member fails the group, and each member has its smoke record carrying
// the group.
func TestGroupSmoke(t *testing.T) {
	tests := []struct {
		name       string
		orderBody  string
		wantPassed bool
		wantEvents []audit.Event
	}{
		{"every member passes", "orders of version 2", true, []audit.Event{audit.SmokePassed, audit.SmokePassed}},
		{"one member fails", "no such body", false, []audit.Event{audit.SmokePassed, audit.SmokeFailed}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			req := groupRequest(t, e, tt.orderBody)
			res, err := e.h.Handle(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if res.Passed != tt.wantPassed {
				t.Errorf("passed = %v, want %v (%+v)", res.Passed, tt.wantPassed, res.Checks)
			}
			var names []string
			for _, c := range res.Checks {
				names = append(names, c.Name)
			}
			if want := []string{"hello: greets", "orders: lists orders"}; !slices.Equal(names, want) {
				t.Errorf("checks = %q, want %q", names, want)
			}
			var invoked []string
			for _, in := range e.inv.invoked() {
				invoked = append(invoked, aws.ToString(in.FunctionName)+":"+aws.ToString(in.Qualifier))
			}
			if !slices.Contains(invoked, "hello:stg") || !slices.Contains(invoked, "orders:stg") {
				t.Errorf("invoked %v, want each member's stg", invoked)
			}
			recs := e.audits(t)
			var events []audit.Event
			for i, r := range recs {
				events = append(events, r.Event)
				m := req.Promotion.Members[min(i, 1)]
				if r.Group != "api" || r.Function != m.Function || r.ToVersion != m.Version || r.Release == nil || r.Release.Commit != m.Release.Commit {
					t.Errorf("record %d = %+v, want %s v%s (commit %s) of group api", i, r, m.Function, m.Version, m.Release.Commit)
				}
			}
			if !slices.Equal(events, tt.wantEvents) {
				t.Errorf("audit events = %v, want %v", events, tt.wantEvents)
			}
		})
	}
}

// TestGroupSmokeInvalidMember: a bad member refuses the request, naming
// the member, before anything is invoked.
func TestGroupSmokeInvalidMember(t *testing.T) {
	e := newEnv(t, nil)
	req := groupRequest(t, e, "orders")
	req.Promotion.Members[1].Version = "$LATEST"
	_, err := e.h.Handle(ctx, req)
	ive, ok := err.(messages.InvokeResponse_Error)
	if !ok || ive.Type != promotion.ErrInvalidInput || !strings.Contains(ive.Message, "promotion.members[1].version") {
		t.Fatalf("error = %#v, want %s naming promotion.members[1].version", err, promotion.ErrInvalidInput)
	}
	if n := len(e.inv.invoked()); n != 0 {
		t.Errorf("invoked %d times, want none", n)
	}
}
