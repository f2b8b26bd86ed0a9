package cli_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aliasflow/aliasflow/cli"
	"github.com/aliasflow/aliasflow/cli/clitest"
	"github.com/aliasflow/aliasflow/shared/promotion"
)

// groupInput is a group promotion of orders (version 4, first by name)
// and hello (version 2), each with its own commit.
func groupInput(w *world) promotion.Input {
	hello := clitest.Input("hello", "2", w.sha2)
	orders := clitest.Input("orders", "4", "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=")
	hello.Release.Commit, orders.Release.Commit = "aaaa1111", "bbbb2222"
	in := hello
	in.Group = "api"
	in.Members = []promotion.Member{
		{Function: "hello", Version: "2", PreviousStgVersion: "1", Release: hello.Release, Target: hello.Target},
		{Function: "orders", Version: "4", PreviousStgVersion: "3", Release: orders.Release, Target: orders.Target},
	}
	return in
}

// TestStatusListsAGroupPromotion: status of any member lists the group's
// running promotion as one promotion, with that member's version and the
// group's members; --json says the same.
func TestStatusListsAGroupPromotion(t *testing.T) {
	w := newWorld(t)
	w.lambda.AddFunction(t, "orders", 4)
	in := groupInput(w)
	name := promotion.GroupExecutionName("api", in.Members)
	w.states.Start(t, name, in)
	tests := []struct {
		function, wantVersion string
	}{
		{"hello", "2"},
		{"orders", "4"},
	}
	for _, tt := range tests {
		t.Run(tt.function, func(t *testing.T) {
			code, out, errs := w.run(t, "status", tt.function)
			wantCode(t, code, cli.ExitOK, out, errs)
			wantContains(t, "status", out, name, name+" is one promotion of group api: hello v2 (aaaa1111), orders v4 (bbbb2222)")
			code, out, errs = w.run(t, "status", tt.function, "--json")
			wantCode(t, code, cli.ExitOK, out, errs)
			var got struct{ Functions []cli.FunctionStatus }
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("--json: %v\n%s", err, out)
			}
			f := got.Functions[0]
			if len(f.Promotions) != 1 || f.Promotions[0].Name != name || f.Promotions[0].Version != tt.wantVersion {
				t.Fatalf("promotions = %+v; want %s at version %s", f.Promotions, name, tt.wantVersion)
			}
			if len(f.Groups) != 1 || f.Groups[0].Group != "api" || len(f.Groups[0].Members) != 2 || f.Groups[0].Members[1].Function != "orders" {
				t.Errorf("groups = %+v; want api with hello and orders", f.Groups)
			}
		})
	}
	// A function not in the group sees none of it.
	w.lambda.AddFunction(t, "web", 1)
	code, out, errs := w.run(t, "status", "web")
	wantCode(t, code, cli.ExitOK, out, errs)
	if strings.Contains(out, name) {
		t.Errorf("status of web lists the group's promotion:\n%s", out)
	}
}

// TestApproveAGroup: a group's promotion is approved by its execution name
// or by any member's name, as the approval e-mail suggests.
func TestApproveAGroup(t *testing.T) {
	for _, ref := range []string{"by name", "orders", "hello"} {
		t.Run(ref, func(t *testing.T) {
			w := newWorld(t)
			w.lambda.AddFunction(t, "orders", 4)
			in := groupInput(w)
			name := promotion.GroupExecutionName("api", in.Members)
			arg := ref
			if ref == "by name" {
				arg = name
			}
			w.states.StartWaiting(t, name, in)
			code, out, errs := w.run(t, "approve", arg, "--comment", "all three")
			wantCode(t, code, cli.ExitOK, out, errs)
			wantContains(t, "stdout", out, "approved "+name)
		})
	}
}
