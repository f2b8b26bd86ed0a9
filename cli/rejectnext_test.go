package cli_test

import (
	"testing"

	"github.com/aliasflow/aliasflow/cli"
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
			w := newWorld(t)
			if tc.stg != "2" {
				w.publish(t, 3)
				w.lambda.SetAlias(t, "hello", "stg", tc.stg, nil)
			}
			s := w.start(t, "2").Smoke(true).AwaitApproval()
			code, out, errs := w.run(t, "reject", s.Name(), "--comment", "not this one")
			wantCode(t, code, cli.ExitOK, out, errs)
			wantContains(t, "reject", out, tc.want)
		})
	}
}
