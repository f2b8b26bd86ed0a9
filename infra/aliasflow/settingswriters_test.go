package aliasflow_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/aliasflow/aliasflow/infra/internal/cdktest"
)

// TestNoAliasflowIdentityWritesSettings: whoever writes a target's
// settings parameter owns its gate (approvers, onInconclusive), so no
// identity aliasflow's stack grants anything to — the four Lambdas, the
// operators', the approvers' and the GitHub release role's policies — may
// write, delete, label or re-tag a parameter. The settings are written by
// the CloudFormation deployment of the target construct (docs/deploy.md,
// "Who can change a target's settings"), and every write is audited as
// settings.changed. The one parameter write granted is the approval
// Lambda's, on the approvals path beside the settings (approval.required),
// which no settings parameter is under.
func TestNoAliasflowIdentityWritesSettings(t *testing.T) {
	_, tmpl := accessStack(t)
	write := regexp.MustCompile(`^(ssm:(Put|Delete|Label|Unlabel|AddTags|RemoveTags|\*)|\*)`)
	seen := 0
	for _, typ := range []string{"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"} {
		for id, props := range cdktest.Resources(tmpl, typ) {
			doc, _ := props["PolicyDocument"].(map[string]any)
			list, _ := doc["Statement"].([]any)
			for _, s := range list {
				st, _ := s.(map[string]any)
				if st["Effect"] != "Allow" {
					continue
				}
				for _, a := range cdktest.Strings(st["Action"]) {
					seen++
					if write.MatchString(a) && !onlyApprovals(st["Resource"]) {
						t.Errorf("%s %s allows %s on %v: a settings writer outside the deployment", typ, id, a, cdktest.Strings(st["Resource"]))
					}
				}
			}
		}
	}
	if seen < 20 {
		t.Errorf("read %d allowed actions, want the pipeline's and the people's policies (20 or more)", seen)
	}
}

// approvalsARN is the approvals path's ARN, plain or as the Fn::Join
// CloudFormation resolves.
var approvalsARN = regexp.MustCompile(`:parameter/aliasflow/[^/"]+/approvals/\*("|$)`)

// onlyApprovals says a statement's resources are all under the pipeline's
// approvals path (/aliasflow/<pipeline>/approvals/), none a settings
// parameter.
func onlyApprovals(resource any) bool {
	arns := cdktest.Strings(resource)
	for _, r := range arns {
		if !approvalsARN.MatchString(r) || strings.Contains(r, "/targets/") {
			return false
		}
	}
	return len(arns) > 0
}
