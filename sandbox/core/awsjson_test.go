package core_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aliasflow/aliasflow/sandbox/core"
	"github.com/aliasflow/aliasflow/sandbox/model"
)

// failingBody is a body that can no longer be read, as after the sandbox's
// one reading when nothing puts it back.
type failingBody struct{}

func (failingBody) Read([]byte) (int, error) { return 0, errors.New("body already read") }
func (failingBody) Close() error             { return nil }

// TestServeAWSJSONTakesTheOneReading: an awsJson service answers from the
// reading the sandbox made of the request (model.Attach) — its operation
// and body — and does not read the request again; a target the model does
// not know, or one the service does not serve, is refused naming it.
func TestServeAWSJSONTakesTheOneReading(t *testing.T) {
	var gotBody string
	ops := map[string]core.JSONOp{"FilterLogEvents": func(_ context.Context, body []byte) (any, error) {
		gotBody = string(body)
		return map[string]any{"events": []any{}}, nil
	}}
	tests := []struct {
		name, target, body string
		wantStatus         int
		wantBody           string // what the response contains
	}{
		{"served from the reading", "Logs_20140328.FilterLogEvents", `{"logGroupName":"g"}`, http.StatusOK, `"events":[]`},
		{"operation not served", "Logs_20140328.PutLogEvents", `{}`, http.StatusBadRequest, `operation \"Logs_20140328.PutLogEvents\" is not implemented`},
		{"another service's target", "AmazonSSM.GetParameter", `{}`, http.StatusBadRequest, `operation \"AmazonSSM.GetParameter\" is not implemented`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gotBody = ""
			r := httptest.NewRequest("POST", "/", strings.NewReader(tt.body))
			r.Header.Set("X-Amz-Target", tt.target)
			r.Header.Set("Content-Type", "application/x-amz-json-1.1")
			r, _, err := model.Attach(r, "logs")
			if err != nil {
				t.Fatal(err)
			}
			r.Body = failingBody{}
			rec := httptest.NewRecorder()
			core.ServeAWSJSON(rec, r, "logs", ops)
			if rec.Code != tt.wantStatus || !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Errorf("answer %d %s, want %d containing %s", rec.Code, rec.Body, tt.wantStatus, tt.wantBody)
			}
			if tt.wantStatus == http.StatusOK && gotBody != tt.body {
				t.Errorf("operation got body %q, want the one read %q", gotBody, tt.body)
			}
		})
	}
}
