package approval_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/sandboxtest"
	"github.com/aliasflow/aliasflow/shared/approval"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/promotion"
)

// groupState is testState as a group's release: hello, orders and users of
// group "api", each with its version, commit and code.
func groupState() promotion.State {
	st := testState()
	hello := promotion.Member{Function: "hello", Version: "7", PreviousStgVersion: "6", Release: st.Release, Target: st.Target}
	orders, users := hello, hello
	orders.Function, orders.Version, orders.Release.Commit = "orders", "12", "0a0b0c0d0e"
	orders.Release.CodeSha256 = "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="
	orders.Target.Function = "orders"
	orders.Target.Repository = &config.Repository{CommitURL: "https://github.com/acme/orders/commit/{commit}"}
	users.Function, users.Version, users.Release.Commit = "users", "3", "5e5e5e5e5e"
	users.Release.CodeSha256 = "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ="
	users.Target.Function = "users"
	for _, m := range []*promotion.Member{&hello, &orders, &users} {
		m.Target.Group = "api"
	}
	st.Target.Group = "api"
	st.Group, st.Members = "api", []promotion.Member{hello, orders, users}
	return st
}

// TestGroupApprovalEmail: the e-mail of a group's approval request asks
// once for the group and lists every member with its version, commit and
// code.
func TestGroupApprovalEmail(t *testing.T) {
	st := groupState()
	subject := approval.Subject(st.Input)
	if want := "Approve group api (3 functions) for prod? (aliasflow)"; subject != want {
		t.Errorf("subject = %q, want %q", subject, want)
	}
	body := approval.Body(st, alice, entered.Add(time.Hour), now0, approvalURL+"?t=x")
	tests := []struct{ name, want string }{
		{"asks for the group", "approve a release of group api (3 functions)"},
		{"says what approving does", "approved once and moved together"},
		{"hello", "  hello version 7, commit 9f2c1e4b7a, code Wl7kT1tLGVtT4nQo2rXKGqX5CkSx3vYH9mX8cWm7QxE="},
		{"orders", "  orders version 12, commit 0a0b0c0d0e, code n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="},
		{"users", "  users version 3, commit 5e5e5e5e5e, code LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(body, tt.want) {
				t.Errorf("body lacks %q:\n%s", tt.want, body)
			}
		})
	}
	// The first member's facts are not shown as the group's.
	if strings.Contains(body, "Commit:") {
		t.Errorf("body shows one commit as the group's:\n%s", body)
	}
}

// TestGroupApprovalPage: the approval page of a group's promotion asks
// once for the group and lists every member with its version, its commit
// (linked by its own repository) and what its prod serves.
func TestGroupApprovalPage(t *testing.T) {
	e := newEnv(t)
	st := groupState()
	name := promotion.GroupExecutionName("api", st.Members)
	arn := sandboxtest.ExecutionARN(name)
	e.wait(t, waiting{State: st, StateName: promotion.StateRequestApproval}, name)
	resp := e.h.ServeAPIGateway(context.Background(), getReq(link(t, testKey, arn, alice, entered.Add(time.Hour))))
	if resp.StatusCode != 200 {
		t.Fatalf("status = %d, want 200\n%s", resp.StatusCode, resp.Body)
	}
	tests := []struct{ name, want string }{
		{"question", `<h1>Approve group api (3 functions) for prod?</h1>`},
		{"group", `<span id="group">api</span>`},
		{"hello row", `<th scope="row">hello</th><td class="num">7</td><td><code id="member-commit-hello">9f2c1e4b7a</code></td><td>version 6</td>`},
		{"orders row", `<th scope="row">orders</th><td class="num">12</td><td><a id="member-commit-orders" href="https://github.com/acme/orders/commit/0a0b0c0d0e"`},
		{"users row", `<th scope="row">users</th><td class="num">3</td><td><code id="member-commit-users">5e5e5e5e5e</code></td>`},
		{"approve button", `value="approve" class="approve">Approve all 3 functions</button>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(resp.Body, tt.want) {
				t.Errorf("page lacks %q", tt.want)
			}
		})
	}
	if got := strings.Count(resp.Body, `<tr class="member">`); got != 3 {
		t.Errorf("%d member rows, want 3", got)
	}
	// The first member's facts are not shown as the group's.
	for _, bad := range []string{`<dd id="function">`, `<dd id="code-sha256">`, `<dd id="version">`} {
		if strings.Contains(resp.Body, bad) {
			t.Errorf("the group's page shows %q, one member's fact as the group's", bad)
		}
	}
	// One decision for the group, said so.
	done := e.h.ServeAPIGateway(context.Background(), postReq(link(t, testKey, arn, alice, entered.Add(time.Hour)), "approve", "all three"))
	if want := "You approved group api (3 functions)."; done.StatusCode != 200 || !strings.Contains(done.Body, want) {
		t.Errorf("decision page: status %d, want 200 saying %q:\n%s", done.StatusCode, want, done.Body)
	}
}
