package cli_test

import (
	"testing"

	"github.com/aliasflow/aliasflow/cli"
	"github.com/aliasflow/aliasflow/cli/clitest"
)

// TestRejectSaysWhatStgServes (issue 23): after a rejection the CLI says
// plainly what it left, in the approval page's words (the approval API
// reads the aliases: an approver's policy may not allow it): prod unmoved,
// stg still on the rejected version (the workflow's Rejected path moves no
// alias) until the next release.
func TestRejectSaysWhatStgServes(t *testing.T) {
	tests := []struct {
		name, stg, want string
	}{
		{name: "stg on the rejected version", stg: "2", want: "stg still serves version 2, the version you rejected, until the next release of hello moves it. prod stays on version 1."},
		{name: "stg moved on since", stg: "3", want: "stg serves version 3 (a newer release moved it). prod stays on version 1."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld()
			if tc.stg != "2" {
				w.lambda.Deploy("hello", "sha-3")
				w.lambda.Publish("hello")
				w.lambda.SetAlias("hello", "stg", tc.stg, nil)
			}
			s := w.states.NewScript(clitest.Input("hello", "2", "sha-2"), clitest.T0).Smoke(true).AwaitApproval("tok-1")
			code, out, errs := w.run(t, "reject", s.Name(), "--comment", "not this one")
			wantCode(t, code, cli.ExitOK, out, errs)
			wantContains(t, "reject", out, tc.want)
		})
	}
}
