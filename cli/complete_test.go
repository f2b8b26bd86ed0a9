package cli_test

import (
	"strings"
	"testing"

	"github.com/aliasflow/aliasflow/cli"
	"github.com/aliasflow/aliasflow/cli/clitest"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aliasflow/aliasflow/shared/settings"
)

// TestShellCompletionNamesFunctionsAndPromotions (issue 23): the shell
// completion scripts cobra generates call `aliasflow __complete <args>`;
// it completes function names (the targets' settings parameters and the
// functions with promotions) where a command takes a function, and
// promotion names where it takes a promotion — the running ones for
// approve, reject and promote, any recent one for watch — read from AWS
// (here the fakes), never files.
func TestShellCompletionNamesFunctionsAndPromotions(t *testing.T) {
	running := promotion.ExecutionName("hello", "2", "sha-2")
	ended := promotion.ExecutionName("orders", "4", "sha-4")
	tests := []struct {
		name    string
		args    []string
		want    []string
		notWant []string
	}{
		{name: "status", args: []string{"status", ""}, want: []string{"hello", "orders"}},
		{name: "status, a second function", args: []string{"status", "hello", "or"}, want: []string{"orders"}, notWant: []string{"hello"}},
		{name: "release by prefix", args: []string{"release", "he"}, want: []string{"hello"}, notWant: []string{"orders"}},
		{name: "history", args: []string{"history", ""}, want: []string{"hello", "orders"}},
		{name: "rollback", args: []string{"rollback", "o"}, want: []string{"orders"}},
		{name: "release takes one function", args: []string{"release", "hello", ""}, notWant: []string{"hello", "orders"}},
		{name: "approve: running promotions and functions", args: []string{"approve", "hello"}, want: []string{running, "hello"}, notWant: []string{ended}},
		{name: "reject", args: []string{"reject", ""}, want: []string{running}, notWant: []string{ended}},
		{name: "promote", args: []string{"promote", ""}, want: []string{running}, notWant: []string{ended}},
		{name: "watch: any recent promotion", args: []string{"watch", ""}, want: []string{running, ended}},
		{name: "deploy-code: the function", args: []string{"local", "deploy-code", "hel"}, want: []string{"hello"}},
		{name: "deploy-code --runtime", args: []string{"local", "deploy-code", "hello", "--runtime", "node"}, want: []string{"nodejs20.x", "nodejs22.x"}},
		{name: "local --runtime", args: []string{"local", "--runtime", ""}, want: []string{"provided.al2023", "nodejs20.x", "nodejs22.x"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			w.params = map[string]string{settings.Path(settings.DefaultPipeline) + "hello": "{}"}
			w.states.Run(t, clitest.Input("hello", "2", "sha-2"))
			w.states.Run(t, clitest.Input("orders", "4", "sha-4")).Smoke(false).RestoreStg() // the smoke test fails it: ended
			code, out, errs := w.run(t, append([]string{"__complete"}, tc.args...)...)
			wantCode(t, code, cli.ExitOK, out, errs)
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) == 0 || lines[len(lines)-1] != ":4" {
				t.Errorf("completion directive = %q, want :4 (no file completion)\n%s", lines[len(lines)-1], out)
			}
			got := map[string]bool{}
			for _, l := range lines[:len(lines)-1] {
				got[strings.SplitN(l, "\t", 2)[0]] = true
			}
			for _, s := range tc.want {
				if !got[s] {
					t.Errorf("completions %q lack %q", lines, s)
				}
			}
			for _, s := range tc.notWant {
				if got[s] {
					t.Errorf("completions %q offer %q", lines, s)
				}
			}
		})
	}
}
