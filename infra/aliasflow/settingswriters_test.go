package aliasflow_test

import (
	"regexp"
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
// settings.changed.
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
					if write.MatchString(a) {
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
