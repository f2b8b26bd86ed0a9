package aliasflow

import (
	"strings"
	"testing"
)

// TestEnvValueBytesCountsEscapes: the config document is checked at synth
// against Lambda's 4 KB environment quota as Lambda measures it — inside
// the JSON of the Variables map, quoted and escaped (Lambda quotas) — not
// by its raw length.
func TestEnvValueBytesCountsEscapes(t *testing.T) {
	tests := []struct {
		name, value string
		want        int
	}{
		{"plain", "abc", 5},
		{"quotes escaped", `{"a":"b"}`, 2 + 9 + 4},
		{"backslash escaped", `a\b`, 2 + 4},
		{"control character escaped", "a\x01", 2 + 1 + 6},
		{"HTML characters as they are", "<&>", 2 + 3},
		{"multibyte UTF-8 counted in bytes", "é", 2 + 2},
		// A 2,000-byte document of quotes passes a raw-length check of 3500
		// but not Lambda's.
		{"quotes double the size", strings.Repeat(`"`, 2000), 2 + 4000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := envValueBytes(tt.value); got != tt.want {
				t.Errorf("envValueBytes(%q) = %d, want %d", tt.value, got, tt.want)
			}
		})
	}
}
