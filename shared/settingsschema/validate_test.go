package settingsschema

import (
	"slices"
	"testing"
)

func TestProblemsNameTheField(t *testing.T) {
	tests := []struct {
		name, doc, what, prefix string
		want                    []string
	}{
		{"valid target", `{"function":"orders","approvers":["a@example.com"]}`, OneTarget, "settings", nil},
		{"percent out of range", `{"targets":[{"function":"orders","approvers":["a@example.com"],"strategy":{"type":"canary","percent":150,"bakeSeconds":300}}]}`, Document, "",
			[]string{"targets[0].strategy.percent: maximum: got 150, want 99"}},
		{"unknown field", `{"function":"orders","approvers":["a@example.com"],"smokeRetry":3}`, OneTarget, "settings",
			[]string{"settings: additional properties 'smokeRetry' not allowed"}},
		{"missing approvers", `{"function":"orders"}`, OneTarget, "settings",
			[]string{"settings: missing property 'approvers'"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Problems([]byte(tt.doc), tt.what, tt.prefix)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Problems = %q, want %q", got, tt.want)
			}
		})
	}
}
