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
	const path = "/aliasflow/aliasflow/targets/"
	const sm = "arn:aws:states:us-east-1:000000000000:stateMachine:aliasflow-promotion"
	tests := []struct {
		name    string
		path    string
		sm      string
		wantErr string
	}{
		{name: "wired", path: path, sm: sm},
		{name: "no settings path", sm: sm, wantErr: "ALIASFLOW_SETTINGS_PATH is not set"},
		{name: "settings path not a path", path: "aliasflow", sm: sm, wantErr: `path "aliasflow" must start and end with /`},
		{name: "no state machine", path: path, wantErr: "ALIASFLOW_STATE_MACHINE_ARN is not set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("ALIASFLOW_SETTINGS_PATH", tt.path)
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
			if h.StateMachineARN != sm || h.Lambda == nil || h.SFN == nil || h.Builds == nil || h.Audit == nil || h.Metrics == nil || h.Targets == nil {
				t.Errorf("handler not fully wired: %+v", h)
			}
		})
	}
}
