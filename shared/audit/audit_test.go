package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
)

type fakeBus struct {
	calls   int
	entries []string
	fail    error
}

var _ EventPutter = (*fakeBus)(nil)

func (f *fakeBus) PutEvents(_ context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	f.calls++
	if f.fail != nil {
		return nil, f.fail
	}
	for _, e := range in.Entries {
		if *e.Source != Source || *e.DetailType != DetailType {
			return nil, errors.New("wrong source or detail type")
		}
		f.entries = append(f.entries, *e.Detail)
	}
	return &eventbridge.PutEventsOutput{}, nil
}

func TestRecordWritesOneLineAndFlushBatches(t *testing.T) {
	var out bytes.Buffer
	bus := &fakeBus{}
	at := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	r := New(slog.New(slog.NewJSONHandler(&out, nil)), bus, &Options{Now: func() time.Time { return at }})
	ctx := context.Background()
	rel := &promotion.Release{Commit: "abc123", CodeSha256: "sha", Source: "codebuild"}
	for i := 0; i < 12; i++ {
		r.Record(ctx, Record{Event: AliasMoved, Function: "hello", Alias: "stg", FromVersion: "1", ToVersion: "2", Release: rel, Execution: "arn:x"})
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 12 {
		t.Fatalf("got %d log lines, want 12", len(lines))
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
		t.Fatalf("line is not JSON: %v", err)
	}
	for k, want := range map[string]any{"audit": true, "event": "alias.moved", "function": "hello", "alias": "stg",
		"fromVersion": "1", "toVersion": "2", "actor": "aliasflow", "execution": "arn:x", "time": "2026-11-21T10:00:00Z"} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
	if rel, _ := got["release"].(map[string]any); rel["commit"] != "abc123" {
		t.Errorf("release = %v, want commit abc123", got["release"])
	}
	if bus.calls != 0 {
		t.Fatalf("Record called PutEvents %d times before Flush", bus.calls)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if bus.calls != 2 || len(bus.entries) != 12 {
		t.Errorf("Flush: %d calls, %d entries; want 2 calls (10 per call), 12 entries", bus.calls, len(bus.entries))
	}
	if err := r.Flush(ctx); err != nil || bus.calls != 2 {
		t.Errorf("second Flush sent again: calls=%d err=%v", bus.calls, err)
	}
}

func TestFlushFailureIsReported(t *testing.T) {
	var out bytes.Buffer
	r := New(slog.New(slog.NewJSONHandler(&out, nil)), &fakeBus{fail: errors.New("throttled")}, nil)
	r.Record(context.Background(), Record{Event: SmokePassed, Function: "hello"})
	if err := r.Flush(context.Background()); err == nil || !strings.Contains(err.Error(), "throttled") {
		t.Errorf("Flush err = %v, want the bus error", err)
	}
	if !strings.Contains(out.String(), `"event":"smoke.passed"`) {
		t.Errorf("the audit line must be written even when EventBridge fails: %s", out.String())
	}
}

// TestSettingsVersionIsLogged: a decision's record carries the settings
// version it was made under in its log line, the trail (it was dropped:
// the line is built field by field).
func TestSettingsVersionIsLogged(t *testing.T) {
	tests := []struct {
		name    string
		version int64
		want    any
	}{
		{name: "a version", version: 7, want: 7.0},
		{name: "unknown", version: 0, want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			r := New(slog.New(slog.NewJSONHandler(&out, nil)), &fakeBus{}, nil)
			r.Log(context.Background(), Record{Event: ApprovalGranted, Function: "hello", Actor: "a@example.com", SettingsVersion: tc.version})
			var got map[string]any
			if err := json.Unmarshal(out.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if got["settingsVersion"] != tc.want {
				t.Errorf("settingsVersion = %v, want %v", got["settingsVersion"], tc.want)
			}
		})
	}
}
