package cli

import (
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/shared/audit"
)

func TestParseAudit(t *testing.T) {
	at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		line   string
		want   audit.Event
		wantOK bool
	}{
		{"slog JSON line", `{"time":"2026-11-26T12:00:00Z","level":"INFO","msg":"audit alias.moved","audit":true,"event":"alias.moved","function":"hello","actor":"a"}`, audit.AliasMoved, true},
		// lambdacontext.NewLogHandler under Lambda's JSON log format.
		{"lambdacontext line", `{"timestamp":"2026-11-26T12:00:00Z","level":"INFO","message":"audit alias.moved","audit":true,"event":"alias.moved","function":"hello","actor":"a","requestId":"8f5e1c2a"}`, audit.AliasMoved, true},
		{"text-prefixed line", `2026-11-26T12:00:00Z 8f5e1c2a {"time":"2026-11-26T12:00:00Z","audit":true,"event":"alias.moved","function":"hello","actor":"a"}`, audit.AliasMoved, true},
		{"not an audit line", `{"timestamp":"2026-11-26T12:00:00Z","message":"promotion started","function":"hello"}`, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, ok := parseAudit(tt.line)
			if ok != tt.wantOK || rec.Event != tt.want {
				t.Fatalf("parseAudit = %+v, %v; want %s, %v", rec, ok, tt.want, tt.wantOK)
			}
			if ok && !rec.Time.Equal(at) {
				t.Errorf("time = %v, want %v", rec.Time, at)
			}
		})
	}
}
