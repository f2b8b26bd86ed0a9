package config

import (
	"fmt"
	"strings"
	"testing"
)

// groupDoc is a targets file of two members of group "api", the second
// with extra set into its fields.
func groupDoc(extra string) string {
	return fmt.Sprintf(`{"targets":[
 {"function":"orders","group":"api","approvers":["ops@example.com","lead@example.com"],"strategy":{"type":"canary","percent":10,"bakeSeconds":300}},
 {"function":"payments","group":"api","approvers":["LEAD@example.com","ops@example.com"],"strategy":{"type":"canary","percent":10,"bakeSeconds":300}%s}]}`, extra)
}

func TestGroupSettings(t *testing.T) {
	tests := []struct {
		name, doc string
		// want is "" for a valid document, else every part must be in the error.
		want []string
	}{
		{"members agree", groupDoc(""), nil},
		{"own thresholds, checks and projects are each member's", groupDoc(`,"health":{"maxErrorRate":0.01,"alarms":["pay-errors"],"probes":3},
			"codeBuildProjects":["payments-build"],"smokeChecks":[{"name":"pays","invoke":{"payload":{}}}],"smokeRetries":5`), nil},
		{"another strategy", strings.Replace(groupDoc(""), `"bakeSeconds":300}}]}`, `"bakeSeconds":600}}]}`, 1),
			[]string{`group "api": member "payments" differs from "orders" in strategy`}},
		{"other approvers", groupDoc(`,"approvers":["ops@example.com"]`), []string{`member "payments"`, "in approvers"}},
		{"other approval timeout", groupDoc(`,"approvalTimeoutSeconds":60`), []string{`member "payments"`, "in approvalTimeoutSeconds"}},
		{"other approval rule", groupDoc(`,"approval":{"required":2}`), []string{`member "payments"`, "in approval "}},
		{"default approval rule written out agrees", groupDoc(`,"approval":{"required":1,"distinctFromReleaser":true}`), nil},
		{"other environment", groupDoc(`,"environment":"eu-live"`), []string{`member "payments"`, "in environment"}},
		{"other inconclusive rule", groupDoc(`,"health":{"onInconclusive":"promote"}`), []string{`member "payments"`, "in health.onInconclusive"}},
		{"other metric delay", groupDoc(`,"health":{"metricDelaySeconds":120}`), []string{`member "payments"`, "in health.metricDelaySeconds"}},
		{"bad group name", `{"targets":[{"function":"a","group":"api v2","approvers":["a@b.c"]}]}`, []string{"targets[0].group", "not a valid group name"}},
		{"group name too long", `{"targets":[{"function":"a","group":"` + strings.Repeat("g", 65) + `","approvers":["a@b.c"]}]}`, []string{"targets[0].group"}},
		{"two groups are checked apart", `{"targets":[
			{"function":"a","group":"g1","approvers":["a@b.c"]},
			{"function":"b","group":"g2","approvers":["x@b.c"]}]}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc))
			switch {
			case len(tt.want) == 0 && err != nil:
				t.Fatalf("Parse: %v, want no error", err)
			case len(tt.want) > 0 && err == nil:
				t.Fatalf("Parse: no error, want one saying %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Parse error %q does not say %q", err, w)
				}
			}
		})
	}
}

// TestCheckGroup: members read one by one (the settings
// store) are checked alike, and a member of another group is named.
func TestCheckGroup(t *testing.T) {
	a := Target{Function: "a", Group: "api", Approvers: []string{"x@example.com"}}
	b := a
	b.Function = "b"
	other := b
	other.Group = "web"
	tests := []struct {
		name    string
		members []Target
		want    string
	}{
		{"agree", []Target{b, a}, ""},
		{"none", nil, ""},
		{"another group", []Target{a, other}, `member "b" is in group "web", not "api"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckGroup(tt.members)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("CheckGroup = %q, want %q", got, tt.want)
			}
		})
	}
}
