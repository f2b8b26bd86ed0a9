package e2e

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/aliasflow/aliasflow/cli"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/promotion"
)

// TestOperatorRollsBackOutsideAPromotion (issue 18): a version promoted an
// hour ago turns out bad and nothing is shifting. The operator (their own
// access key, evaluated against aliasflow-operators) rolls prod back with
// the CLI; the approval API starts a rollback execution of the promotion
// state machine, whose shift task moves prod and records the caller AWS
// verified — exactly one alias.moved and one promotion.rolled_back. --to
// is held to versions an approved promotion put on prod unless
// --break-glass, which the record says.
func TestOperatorRollsBackOutsideAPromotion(t *testing.T) {
	s := startScenarioWith(t, func(tg *config.Target) {
		tg.Approval.Principals = map[string][]string{oncall: {personARN(approverKey)}}
	}, "", cdkOut, true)
	p := s.merge(helloV2, "c0ffee1")
	s.waitWaiting(p, promotion.StateRequestApproval)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_ACCESS_KEY_ID", approverKey)
	if code, out, errOut := s.cli("approve", p.name, "--comment", "ship it"); code != cli.ExitOK {
		t.Fatalf("approve: exit %d\n%s%s", code, out, errOut)
	}
	s.waitDone(p, 2*stepTimeout)
	if got := s.alias("prod").version; got != p.version {
		t.Fatalf("prod = %s after the promotion, want %s", got, p.version)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", operatorKey)
	operator := personARN(operatorKey)

	// rollback runs one command and, when it moved prod, its execution's
	// records are checked.
	steps := []struct {
		name     string
		args     []string
		code     int
		wantErr  string
		wantProd string
		glass    bool
	}{
		{name: "--to a version no approved promotion put on prod", args: []string{"--to", "1"}, code: cli.ExitConflict,
			wantErr: "never went to prod through an approved promotion", wantProd: p.version},
		{name: "back to the version the last promotion replaced", wantProd: "1"},
		{name: "--to a version an approved promotion put on prod", args: []string{"--to", p.version}, wantProd: p.version},
		{name: "--to a never-approved version, break-glass", args: []string{"--to", "1", "--break-glass"}, wantProd: "1", glass: true},
	}
	for _, st := range steps {
		args := append([]string{"--json", "rollback", fn, "--yes", "--reason", st.name}, st.args...)
		code, out, errOut := s.cli(args...)
		if code != st.code {
			t.Fatalf("%s: exit %d, want %d\n%s%s", st.name, code, st.code, out, errOut)
		}
		if got := s.alias("prod").version; got != st.wantProd {
			t.Fatalf("%s: prod = %s, want %s", st.name, got, st.wantProd)
		}
		if st.code != cli.ExitOK {
			if !strings.Contains(errOut, st.wantErr) {
				t.Errorf("%s: stderr %q, want it to say %q", st.name, errOut, st.wantErr)
			}
			continue
		}
		var res cli.RollbackResult
		if err := json.Unmarshal([]byte(out), &res); err != nil || res.Execution == "" {
			t.Fatalf("%s: rollback --json: %v\n%s", st.name, err, out)
		}
		if res.To != st.wantProd || res.Actor != operator || res.BreakGlass != st.glass {
			t.Errorf("%s: result %+v, want to %s by %s, break-glass %v", st.name, res, st.wantProd, operator, st.glass)
		}
		var mine []audit.Record
		for _, r := range s.waitAudit(func(recs []audit.Record) bool {
			for _, r := range recs {
				if r.Event == audit.PromotionRolledBack && r.Execution == res.Execution {
					return true
				}
			}
			return false
		}) {
			if r.Execution == res.Execution {
				mine = append(mine, r)
			}
		}
		var got []string
		for _, r := range mine {
			got = append(got, string(r.Event)+" "+r.FromVersion+">"+r.ToVersion)
			if r.Actor != operator {
				t.Errorf("%s: %s names %q, want %s", st.name, r.Event, r.Actor, operator)
			}
			if r.Event == audit.PromotionRolledBack && strings.Contains(r.Reason, "break-glass") != st.glass {
				t.Errorf("%s: reason %q, want break-glass said: %v", st.name, r.Reason, st.glass)
			}
		}
		want := []string{string(audit.AliasMoved) + " " + res.From + ">" + st.wantProd, string(audit.PromotionRolledBack) + " " + res.From + ">" + st.wantProd}
		if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))) {
			t.Errorf("%s: records of %s = %v, want exactly %v", st.name, res.Execution, got, want)
		}
	}
	// Issue 21: after an operator's rollback, status says so, not that the
	// promotion before it completed.
	code, out, errOut := s.cli("status", fn)
	if code != cli.ExitOK {
		t.Fatalf("status: exit %d\n%s%s", code, out, errOut)
	}
	if want := "an operator's rollback: prod → version 1"; !strings.Contains(out, "last finished: ") || !strings.Contains(out, want) || strings.Contains(out, "completed: prod on") {
		t.Errorf("status after the operator's rollback does not say %q as the last finished:\n%s", want, out)
	}
}
