package audit_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/shared/audit"
)

func TestRecordReadsItsTimeFromEitherKey(t *testing.T) {
	at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	tests := []struct{ name, doc string }{
		{"EventBridge detail / slog line", `{"audit":true,"event":"alias.moved","function":"hello","actor":"a","time":"2026-11-26T12:00:00Z"}`},
		{"lambdacontext line", `{"timestamp":"2026-11-26T12:00:00Z","level":"INFO","message":"audit alias.moved","requestId":"r-1","audit":true,"event":"alias.moved","function":"hello","actor":"a"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r audit.Record
			if err := json.Unmarshal([]byte(tt.doc), &r); err != nil {
				t.Fatal(err)
			}
			if !r.Time.Equal(at) || r.Event != audit.AliasMoved || r.Function != "hello" || !r.Audit {
				t.Errorf("record = %+v", r)
			}
		})
	}
}
