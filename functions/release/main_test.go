package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
)

func TestNewHandler(t *testing.T) {
	cfg := `{"targets":[{"function":"hello","codeBuildProjects":["hello-build"],"approvers":["ana@example.com"]}]}`
	const sm = "arn:aws:states:us-east-1:000000000000:stateMachine:aliasflow-promotion"
	tests := []struct {
		name    string
		config  string
		sm      string
		wantErr string
	}{
		{name: "wired", config: cfg, sm: sm},
		{name: "no configuration", sm: sm, wantErr: "ALIASFLOW_CONFIG is not set"},
		{name: "bad configuration", config: `{"targets":[{"function":"$LATEST"}]}`, sm: sm, wantErr: "targets[0].function"},
		{name: "no state machine", config: cfg, wantErr: "ALIASFLOW_STATE_MACHINE_ARN is not set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("ALIASFLOW_CONFIG", tt.config)
			t.Setenv("ALIASFLOW_STATE_MACHINE_ARN", tt.sm)
			t.Setenv("AWS_REGION", "us-east-1")
			t.Setenv("AWS_ACCESS_KEY_ID", "test")
			t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
			t.Setenv("AWS_CONFIG_FILE", os.DevNull)
			t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
			h, err := newHandler(context.Background(), slog.New(slog.NewJSONHandler(io.Discard, nil)))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("newHandler error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("newHandler: %v", err)
			}
			if h.StateMachineARN != sm || h.Lambda == nil || h.SFN == nil || h.Builds == nil || h.Audit == nil || h.Metrics == nil {
				t.Errorf("handler not fully wired: %+v", h)
			}
			if _, ok := h.Config.Lookup("hello"); !ok {
				t.Errorf("configuration lacks the hello target")
			}
		})
	}
}
