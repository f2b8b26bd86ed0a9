package aliasflow_test

import (
	"strings"
	"testing"

	"github.com/aliasflow/aliasflow/infra/aliasflow"
	"github.com/aliasflow/aliasflow/infra/internal/cdktest"
	"github.com/aliasflow/aliasflow/shared/deploy"
)

// TestReleaseBus (issue 18 item 3): Release Requested is accepted on a bus
// of its own, whose resource policy denies PutEvents to every principal
// but the GitHub release role, the pipeline's ReleasePrincipals and
// principals tagged aliasflow:releaser=true; the release-requested rule
// listens there and nowhere else, while CodeBuild's events (the build
// rules) and the settings audit stay on the default bus (the people's
// RequestRelease grants name the release bus: releaseOnly). On the old code the rule
// listened on the default bus, where anyone with events:PutEvents could
// start a release.
func TestReleaseBus(t *testing.T) {
	tmpl := cdktest.TemplateJSON(t, fx.pipeline)
	buses := cdktest.Resources(tmpl, "AWS::Events::EventBus")
	if len(buses) != 1 {
		t.Fatalf("%d event buses, want 1", len(buses))
	}
	var busID string
	for id, b := range buses {
		busID = id
		if b["Name"] != deploy.ReleaseEventBus {
			t.Errorf("bus name %v, want %s", b["Name"], deploy.ReleaseEventBus)
		}
	}
	policies := cdktest.Resources(tmpl, "AWS::Events::EventBusPolicy")
	if len(policies) != 1 {
		t.Fatalf("%d bus policies, want 1", len(policies))
	}
	for _, pol := range policies {
		flat := cdktest.Flat(pol)
		for _, want := range []string{`"Effect":"Deny"`, `"Principal":{"AWS":"*"}`, `"Action":"events:PutEvents"`,
			`"ArnNotLike":{"aws:PrincipalArn":`, `:role/` + aliasflow.GitHubReleaseRoleName,
			`"StringNotEquals":{"aws:PrincipalTag/` + aliasflow.ReleaserTag + `":"true"}`, `"Ref":"` + busID + `"`} {
			if !strings.Contains(flat, want) {
				t.Errorf("bus policy lacks %s:\n%s", want, flat)
			}
		}
	}
	for id, r := range cdktest.Resources(tmpl, "AWS::Events::Rule") {
		onBus := cdktest.Flat(r["EventBusName"]) == `{"Ref":"`+busID+`"}`
		if isRelease := r["Name"] == deploy.ReleaseRequestedRule; isRelease != onBus {
			t.Errorf("rule %s (%v) on the release bus: %v, want %v", id, r["Name"], onBus, isRelease)
		}
	}

}
