package iam

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

const stateMachine = "arn:aws:states:us-east-1:000000000000:stateMachine:aliasflow-promotion"

// TestActionsWithoutResourceTypesActOnStar reads the Service Authorization
// Reference ("Actions, resources, and condition keys for AWS Step
// Functions": no resource type for SendTaskSuccess, SendTaskFailure,
// SendTaskHeartbeat; statemachine for StartExecution) from cfn-lint and
// evaluates as IAM does: a statement naming the state machine allows
// StartExecution on it but never SendTaskSuccess, which acts on "*".
func TestActionsWithoutResourceTypesActOnStar(t *testing.T) {
	ref, err := DefaultReference()
	if err != nil {
		t.Fatal(err)
	}
	onMachine := []Policy{{Name: "old", Statements: []Statement{{Effect: "Allow", Action: []string{"states:SendTaskSuccess", "states:SendTaskFailure", "states:StartExecution"}, Resource: []string{stateMachine}}}}}
	onStar := []Policy{{Name: "new", Statements: []Statement{{Effect: "Allow", Action: []string{"states:SendTaskSuccess"}, Resource: []string{"*"}}}}}
	tag := map[string][]string{"aws:ResourceTag/aliasflow:pipeline": {"aliasflow"}}
	cases := []struct {
		name     string
		policies []Policy
		action   string
		resource string // as the sandbox names it before scoping
		want     string // the resource after scoping
		allowed  bool
	}{
		{"SendTaskSuccess granted on the state machine", onMachine, "states:SendTaskSuccess", stateMachine, "*", false},
		{"SendTaskFailure granted on the state machine", onMachine, "states:SendTaskFailure", stateMachine, "*", false},
		{"SendTaskSuccess granted on *", onStar, "states:sendtasksuccess", stateMachine, "*", true},
		{"StartExecution keeps its resource", onMachine, "states:StartExecution", stateMachine, stateMachine, true},
		{"GetMetricData acts on *", []Policy{{Statements: []Statement{{Effect: "Allow", Action: []string{"cloudwatch:GetMetricData"}, Resource: []string{"arn:aws:cloudwatch:us-east-1:000000000000:alarm:*"}}}}}, "cloudwatch:GetMetricData", "*", "*", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := ref.Scope(Request{Action: c.action, Resource: c.resource, Context: tag})
			if err != nil {
				t.Fatal(err)
			}
			if req.Resource != c.want {
				t.Errorf("resource %q, want %q", req.Resource, c.want)
			}
			if c.want == "*" && len(req.Context) != 0 {
				t.Errorf("resource condition keys kept for an action without resource: %v", req.Context)
			}
			d, err := Evaluate(c.policies, req)
			if err != nil {
				t.Fatal(err)
			}
			if d.Allowed != c.allowed {
				t.Errorf("allowed %v, want %v", d.Allowed, c.allowed)
			}
		})
	}
	if types, err := ref.ResourceTypes("states:SendTaskHeartbeat"); err != nil || len(types) != 0 {
		t.Errorf("SendTaskHeartbeat: %v %v, want no resource type", types, err)
	}
	if _, err := ref.Scope(Request{Action: "states:NoSuchAction", Resource: "*"}); err == nil {
		t.Error("an action the reference does not know was scoped without an error")
	}
	if got := ref.Matching("kms:GenerateDataKey*"); len(got) < 2 {
		t.Errorf("kms:GenerateDataKey* matched %v", got)
	}
}

// TestReferenceMissingFailsLoudly: without the reference data the IAM
// evaluator would allow what AWS denies, so loading fails, naming the file.
func TestReferenceMissingFailsLoudly(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "Policies.json")
	if _, err := LoadReference(missing); err == nil || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadReference(%s) = %v, want a not-exist error", missing, err)
	}
	empty := filepath.Join(t.TempDir(), "Policies.json")
	if err := os.WriteFile(empty, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadReference(empty); err == nil {
		t.Error("an empty reference loaded")
	}
}
