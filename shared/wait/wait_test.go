package wait

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestSleep(t *testing.T) {
	tests := []struct {
		name    string
		cancel  bool
		wantErr error
	}{
		{"waits out a zero duration", false, nil},
		{"ends with the context", true, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			d := 0 * time.Second
			if tt.cancel {
				cancel()
				d = time.Hour // would hang the test if the context were ignored
			}
			if err := Sleep(ctx, d); !errors.Is(err, tt.wantErr) {
				t.Errorf("Sleep = %v, want %v", err, tt.wantErr)
			}
		})
	}
}
