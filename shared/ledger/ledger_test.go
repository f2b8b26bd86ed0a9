package ledger_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/sandboxtest"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/deploy"
	"github.com/aliasflow/aliasflow/shared/ledger"
	"github.com/aliasflow/aliasflow/shared/promotion"
)

var t0 = time.Date(2026, 12, 7, 16, 0, 0, 0, time.UTC)

const machine = "arn:aws:states:us-east-1:000000000000:stateMachine:aliasflow-promotion"

func arn(name string) string { return promotion.ExecutionARN(machine, name) }

// written puts recs in the sandbox's log group as the Lambdas write them:
// through shared/audit's Recorder, one JSON line each (a JSON filter
// pattern matches only JSON lines), amid lines that are no audit records.
func written(t *testing.T, logs *sandboxtest.Logs, recs ...audit.Record) {
	t.Helper()
	var buf bytes.Buffer
	rec := audit.New(slog.New(slog.NewJSONHandler(&buf, nil)), nil, nil)
	for _, r := range recs {
		rec.Log(context.Background(), r)
	}
	sc := bufio.NewScanner(&buf)
	for i := 0; sc.Scan(); i++ {
		line, r := sc.Text(), recs[i]
		logs.Service.Append(deploy.PipelineLogGroup, "2026/12/07/[$LATEST]"+r.Function, r.Time, `{"level":"INFO","msg":"not audited","function":"`+r.Function+`"}`)
		logs.Service.Append(deploy.PipelineLogGroup, "2026/12/07/[$LATEST]"+r.Function, r.Time, line)
	}
}

func rec(at time.Duration, fn string, ev audit.Event, alias, from, to, exec string) audit.Record {
	r := audit.Record{Event: ev, Function: fn, Alias: alias, FromVersion: from, ToVersion: to, Time: t0.Add(at)}
	if exec != "" {
		r.Execution = arn(exec)
	}
	return r
}

func events(t ledger.Trail) []string {
	var out []string
	for _, r := range t {
		out = append(out, r.Function+" "+string(r.Event)+" "+r.ToVersion)
	}
	return out
}

func TestRead(t *testing.T) {
	trail := []audit.Record{
		rec(0, "hello", audit.ReleasePublished, "stg", "", "1", "hello-v1-0a0a0a0a"),
		rec(time.Minute, "other", audit.ReleasePublished, "stg", "", "4", "other-v4-0c0c0c0c"),
		rec(2*time.Minute, "hello", audit.AliasMoved, "prod", "", "1", "hello-v1-0a0a0a0a"),
		rec(2*time.Minute, "hello", audit.PromotionCompleted, "prod", "", "1", "hello-v1-0a0a0a0a"),
		// A function whose name another's begins with.
		rec(3*time.Minute, "hello-v2", audit.ReleasePublished, "stg", "", "9", "hello-v2-v9-0d0d0d0d"),
		func() audit.Record {
			r := rec(4*time.Minute, "api", audit.ReleasePublished, "stg", "", "3", "shop-g0e0e0e0e")
			r.Group = "shop"
			return r
		}(),
	}
	tests := []struct {
		name  string
		group string // the log group read
		q     ledger.Query
		now   time.Time
		want  []string
		err   error
	}{
		{name: "one function, newest first, the same moment in the order written reversed", q: ledger.Query{Function: "hello"}, now: t0.Add(time.Hour),
			want: []string{"hello promotion.completed 1", "hello alias.moved 1", "hello release.published 1"}},
		{name: "every function", now: t0.Add(time.Hour),
			want: []string{"api release.published 3", "hello-v2 release.published 9", "hello promotion.completed 1", "hello alias.moved 1", "other release.published 4", "hello release.published 1"}},
		{name: "some events", q: ledger.Query{Events: []audit.Event{audit.PromotionCompleted, audit.AliasMoved}}, now: t0.Add(time.Hour),
			want: []string{"hello promotion.completed 1", "hello alias.moved 1"}},
		{name: "one event", q: ledger.Query{Events: []audit.Event{audit.ReleasePublished}}, now: t0.Add(time.Hour),
			want: []string{"api release.published 3", "hello-v2 release.published 9", "other release.published 4", "hello release.published 1"}},
		{name: "a group", q: ledger.Query{Group: "shop"}, now: t0.Add(time.Hour), want: []string{"api release.published 3"}},
		{name: "since", q: ledger.Query{Function: "hello", Since: t0.Add(time.Minute)}, now: t0.Add(time.Hour),
			want: []string{"hello promotion.completed 1", "hello alias.moved 1"}},
		{name: "the window ends what is read", q: ledger.Query{Function: "hello"}, now: t0.Add(ledger.DefaultWindow + time.Minute),
			want: []string{"hello promotion.completed 1", "hello alias.moved 1"}},
		{name: "no log group", group: "/aliasflow/nope", q: ledger.Query{Function: "hello"}, now: t0, err: ledger.ErrNoTrail},
	}
	logs := sandboxtest.NewLogs(t, func() time.Time { return t0.Add(time.Hour) })
	written(t, logs, trail...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			group := tc.group
			if group == "" {
				group = deploy.PipelineLogGroup
			}
			l := ledger.Ledger{Logs: logs.Client, Group: group, Now: func() time.Time { return tc.now }}
			got, err := l.Read(context.Background(), tc.q)
			if !errors.Is(err, tc.err) {
				t.Fatalf("Read = %v, want %v", err, tc.err)
			}
			if g := events(got); !slices.Equal(g, tc.want) {
				t.Errorf("Read(%+v) =\n %s\nwant\n %s", tc.q, strings.Join(g, "\n "), strings.Join(tc.want, "\n "))
			}
		})
	}
	t.Run("a function of a missing group has no records", func(t *testing.T) {
		got, err := ledger.Ledger{Logs: logs.Client, Group: "/aliasflow/nope"}.Function(context.Background(), "hello")
		if err != nil || len(got) != 0 {
			t.Errorf("Function = %v, %v; want no records, no error", got, err)
		}
	})
}

func TestParse(t *testing.T) {
	tests := []struct {
		name, line string
		want       audit.Event
		ok         bool
	}{
		{"a JSON line", `{"audit":true,"event":"alias.moved","function":"hello","time":"2026-12-07T16:00:00Z"}`, audit.AliasMoved, true},
		{"Lambda's text prefix", "2026-12-07T16:00:00Z\tc0ffee\tINFO\t" + `{"audit":true,"event":"alias.moved","function":"hello","time":"2026-12-07T16:00:00Z"}`, audit.AliasMoved, true},
		{"Lambda's JSON format names the time timestamp", `{"audit":true,"event":"alias.moved","function":"hello","timestamp":"2026-12-07T16:00:00Z"}`, audit.AliasMoved, true},
		// lambdacontext.NewLogHandler under Lambda's JSON log format (moved from cli/auditlog_test.go).
		{"lambdacontext line", `{"timestamp":"2026-11-26T12:00:00Z","level":"INFO","message":"audit alias.moved","audit":true,"event":"alias.moved","function":"hello","actor":"a","requestId":"8f5e1c2a"}`, audit.AliasMoved, true},
		{"not audited", `{"event":"alias.moved","function":"hello"}`, "", false},
		{"not JSON", "START RequestId: c0ffee", "", false},
		{"broken JSON", `{"audit":true,`, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ledger.Parse(tc.line)
			if got.Event != tc.want || ok != tc.ok {
				t.Errorf("Parse = %s, %v; want %s, %v", got.Event, ok, tc.want, tc.ok)
			}
			if ok && got.Time.IsZero() && strings.Contains(tc.line, `"2026`) {
				t.Errorf("Parse lost the time of %s", tc.line)
			}
		})
	}
}

// TestPromotions: records group into promotions by execution name; a
// retry's records read with its first attempt's as one release
// (promotion.SameRelease); a group release's records, whatever function
// each names, are one promotion.
func TestPromotions(t *testing.T) {
	group := func(r audit.Record) audit.Record { r.Group = "shop"; return r }
	trail := ledger.NewTrail([]audit.Record{
		rec(0, "hello", audit.ReleasePublished, "stg", "1", "2", "hello-v2-0a0a0a0a"),
		rec(time.Minute, "hello", audit.SmokeFailed, "", "", "2", "hello-v2-0a0a0a0a"),
		rec(2*time.Minute, "hello", audit.ReleaseRetried, "stg", "1", "2", "hello-v2-0a0a0a0a-r2"),
		rec(3*time.Minute, "hello", audit.PromotionCompleted, "prod", "1", "2", "hello-v2-0a0a0a0a-r2"),
		rec(4*time.Minute, "hello", audit.ReleasePublished, "stg", "2", "3", "hello-v3-0b0b0b0b"),
		group(rec(5*time.Minute, "api", audit.ReleasePublished, "stg", "6", "7", "shop-g0e0e0e0e")),
		group(rec(5*time.Minute, "web", audit.ReleasePublished, "stg", "2", "3", "shop-g0e0e0e0e")),
		group(rec(6*time.Minute, "web", audit.PromotionCompleted, "prod", "2", "3", "shop-g0e0e0e0e")),
		rec(7*time.Minute, "hello", audit.SettingsChanged, "", "", "", ""),
	})
	t.Run("promotions", func(t *testing.T) {
		var got []string
		for _, p := range trail.Promotions() {
			out, done := p.Outcome()
			got = append(got, strings.Join([]string{p.Execution, p.Group, p.Started().Function, string(p.Started().Event), string(out.Event)}, " ")+
				map[bool]string{true: " done", false: ""}[done])
		}
		want := []string{
			"shop-g0e0e0e0e shop api release.published promotion.completed done",
			"hello-v3-0b0b0b0b  hello release.published ",
			"hello-v2-0a0a0a0a-r2  hello release.retried promotion.completed done",
			"hello-v2-0a0a0a0a  hello release.published ",
		}
		if !slices.Equal(got, want) {
			t.Errorf("Promotions =\n %s\nwant\n %s", strings.Join(got, "\n "), strings.Join(want, "\n "))
		}
	})
	tests := []struct {
		name string
		got  ledger.Trail
		want []string
	}{
		{"one execution", trail.Execution(arn("hello-v2-0a0a0a0a")), []string{"hello smoke.failed 2", "hello release.published 2"}},
		{"a release's attempts", trail.Release("hello-v2-0a0a0a0a-r2"),
			[]string{"hello promotion.completed 2", "hello release.retried 2", "hello smoke.failed 2", "hello release.published 2"}},
		{"a group's release", trail.Release("shop-g0e0e0e0e"), []string{"web promotion.completed 3", "web release.published 3", "api release.published 7"}},
		{"a function", trail.Of("web"), []string{"web promotion.completed 3", "web release.published 3"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if g := events(tc.got); !slices.Equal(g, tc.want) {
				t.Errorf("got\n %s\nwant\n %s", strings.Join(g, "\n "), strings.Join(tc.want, "\n "))
			}
		})
	}
}
