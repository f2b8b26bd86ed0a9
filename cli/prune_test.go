package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/aliasflow/aliasflow/cli"
	"github.com/aliasflow/aliasflow/cli/clitest"
	"github.com/aliasflow/aliasflow/sandbox/sandboxtest"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/settings"
)

// TestPrune: `aliasflow prune` on the sandbox's Lambda deletes exactly the
// old versions nothing needs. hello has versions 1–12 and keeps the newest
// 2 (11, 12); prod is on 9, stg on 12, blue on 4 routing to 5; a running
// promotion releases 11 and would restore stg to 8; the trail says the
// last promotion replaced 7 on prod (the rollback target) and an earlier
// one put prod on 3 (a version `rollback --to` accepts). So 1, 2, 6 and 10
// go.
func TestPrune(t *testing.T) {
	now := clitest.T0.Add(time.Hour)
	l := sandboxtest.NewLambda(t, sandboxtest.ActiveAtOnce)
	l.AddFunction(t, "hello", 12)
	l.AddFunction(t, "orders", 3)
	l.SetAlias(t, "hello", "prod", "9", nil)
	l.SetAlias(t, "hello", "stg", "12", nil)
	l.SetAlias(t, "hello", "blue", "4", map[string]float64{"5": 0.1})
	states := sandboxtest.NewPromotion(t)
	in := clitest.Input("hello", "11", "sha-11")
	in.PreviousStgVersion = "8"
	states.Run(t, in) // running: its smoke test in flight
	logs := sandboxtest.NewLogs(t, func() time.Time { return now })
	for _, r := range []audit.Record{
		{Event: audit.PromotionCompleted, Function: "hello", Alias: "prod", FromVersion: "2", ToVersion: "3", Time: clitest.T0.Add(-3 * time.Hour)},
		{Event: audit.AliasMoved, Function: "hello", Alias: "prod", FromVersion: "7", ToVersion: "9", Time: clitest.T0.Add(-time.Hour)},
		{Event: audit.PromotionCompleted, Function: "hello", Alias: "prod", FromVersion: "7", ToVersion: "9", Time: clitest.T0.Add(-time.Hour)},
	} {
		var line bytes.Buffer
		audit.New(slog.New(slog.NewJSONHandler(&line, nil)), nil, nil).Record(context.Background(), r)
		logs.Service.Append(cli.DefaultLogGroup, "s", r.Time, strings.TrimSpace(line.String()))
	}
	params := paramStore{
		settings.ParameterName(settings.DefaultPipeline, "hello"):  `{"function":"hello","approvers":["a@example.com"],"prune":{"keepLast":2}}`,
		settings.ParameterName(settings.DefaultPipeline, "orders"): `{"function":"orders","approvers":["a@example.com"]}`,
	}
	identity := clitest.Identity(t)
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := cli.Main(context.Background(), args, cli.Env{Stdout: &out, Stderr: &errb,
			Getenv: func(string) string { return "" }, Now: func() time.Time { return now },
			Clients: &cli.Clients{Lambda: l.Client, Prune: l.Client, States: states.SFN, Logs: logs.Client, Settings: params,
				Identity: identity}})
		return code, out.String(), errb.String()
	}
	versions := func(fn string) string {
		t.Helper()
		out, err := l.Admin.ListVersionsByFunction(context.Background(), &lambda.ListVersionsByFunctionInput{FunctionName: aws.String(fn)})
		if err != nil {
			t.Fatal(err)
		}
		var vs []string
		for _, v := range out.Versions {
			vs = append(vs, aws.ToString(v.Version))
		}
		return strings.Join(vs, ",")
	}
	all := "$LATEST,1,2,3,4,5,6,7,8,9,10,11,12"
	steps := []struct {
		name     string
		args     []string
		wantCode int
		want     []string
		left     string // hello's versions after
	}{
		{"dry run says why each version stays", []string{"prune", "hello", "--dry-run"}, cli.ExitOK, []string{
			"hello (keep the newest 2): 4 of 12 published version(s) to delete",
			"alias prod points at it", "alias blue routes traffic to it", "alias stg points at it",
			"promotion hello-v11-", "restores stg to it", "prod's rollback target", "a rollback --to may return to it",
			"of 75.0 GiB used", "dry run: nothing deleted"}, all},
		{"without a terminal it needs --yes", []string{"prune", "hello"}, cli.ExitRefused, []string{"--yes"}, all},
		{"a target with pruning off", []string{"prune", "orders"}, cli.ExitConflict, []string{"pruning is off for orders", "prune.keepLast"}, all},
		{"a function that is no target", []string{"prune", "nope"}, cli.ExitNotFound, []string{"nope is not a target"}, all},
		{"a function and --all", []string{"prune", "hello", "--all"}, cli.ExitUsage, []string{"a function or --all"}, all},
		{"--all --yes deletes only the unreferenced old versions", []string{"prune", "--all", "--yes"}, cli.ExitOK,
			[]string{"orders: pruning off", "deleted 4 version(s)"}, "$LATEST,3,4,5,7,8,9,11,12"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			code, out, errs := run(s.args...)
			wantCode(t, code, s.wantCode, out, errs)
			wantContains(t, "output", out+errs, s.want...)
			if got := versions("hello"); got != s.left {
				t.Errorf("hello's versions = %s, want %s", got, s.left)
			}
		})
	}
	if got := versions("orders"); got != "$LATEST,1,2,3" {
		t.Errorf("orders' versions = %s, want all kept (pruning off)", got)
	}
	// Nothing left to delete: --json reports the storage, deletes nothing.
	code, out, errs := run("prune", "hello", "--yes", "--json")
	wantCode(t, code, cli.ExitOK, out, errs)
	var res cli.PruneResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("prune --json: %v\n%s", err, out)
	}
	if len(res.Outcomes) != 0 || res.Before.Limit != 75<<30 || res.Before.Used <= 0 {
		t.Errorf("second prune = %+v, want nothing deleted and the Region's use of 75 GiB", res)
	}
}
