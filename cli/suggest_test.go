package cli_test

import (
	"strings"
	"testing"

	"github.com/aliasflow/aliasflow/cli"
	"github.com/aliasflow/aliasflow/shared/settings"
)

// TestMisspeltFunctionGetsASuggestion (issue 23): a function name that is
// not found but is close to a target's (its settings parameter names it)
// gets a "did you mean", in every command that looks the function up;
// a name close to none gets none.
func TestMisspeltFunctionGetsASuggestion(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     string
		notWant  string
	}{
		{name: "status", args: []string{"status", "helo"}, wantCode: cli.ExitNotFound, want: `function helo not found; did you mean "hello"?`},
		{name: "history", args: []string{"history", "hlelo"}, wantCode: cli.ExitNotFound, want: `function hlelo not found; did you mean "hello"?`},
		{name: "release", args: []string{"release", "Hello"}, wantCode: cli.ExitNotFound, want: `function Hello not found; did you mean "hello"?`},
		{name: "approve", args: []string{"approve", "hellp"}, wantCode: cli.ExitNotFound, want: `function hellp not found; did you mean "hello"?`},
		{name: "a name close to none", args: []string{"status", "payments"}, wantCode: cli.ExitNotFound, want: "function payments not found", notWant: "did you mean"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			w.params = map[string]string{settings.Path(settings.DefaultPipeline) + "hello": "{}", settings.Path(settings.DefaultPipeline) + "orders": "{}"}
			code, out, errs := w.run(t, tc.args...)
			wantCode(t, code, tc.wantCode, out, errs)
			wantContains(t, strings.Join(tc.args, " "), errs, tc.want)
			if tc.notWant != "" && strings.Contains(errs, tc.notWant) {
				t.Errorf("stderr says %q:\n%s", tc.notWant, errs)
			}
		})
	}
}
