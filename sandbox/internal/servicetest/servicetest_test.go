package servicetest

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	smithyhttp "github.com/aws/smithy-go/transport/http"
)

func TestRequireSigned(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	srv := Server(t, "logs", ok)
	tests := []struct {
		name, auth string
		want       int
	}{
		{"signed for the service", "AWS4-HMAC-SHA256 Credential=AKIDTEST/20261121/us-east-1/logs/aws4_request, SignedHeaders=host, Signature=0", http.StatusNoContent},
		{"unsigned", "", http.StatusForbidden},
		{"signed for another service", "AWS4-HMAC-SHA256 Credential=AKIDTEST/20261121/us-east-1/sns/aws4_request, SignedHeaders=host, Signature=0", http.StatusForbidden},
		{"signed for another region", "AWS4-HMAC-SHA256 Credential=AKIDTEST/20261121/eu-west-1/logs/aws4_request, SignedHeaders=host, Signature=0", http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.want)
			}
		})
	}
}

func TestConfig(t *testing.T) {
	cfg := Config(t, "logs", http.NotFoundHandler())
	creds, err := cfg.Credentials.Retrieve(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "us-east-1" || cfg.BaseEndpoint == nil || creds.AccessKeyID == "" || cfg.RetryMaxAttempts != 1 || cfg.HTTPClient == nil {
		t.Errorf("Config = %+v, credentials %+v; want the sandbox region, a loopback endpoint, dummy credentials, one attempt", cfg, creds)
	}
}

// recorder is a testing.TB that only notes whether a check failed.
type recorder struct {
	testing.TB
	failed bool
}

func (r *recorder) Helper()               {}
func (r *recorder) Errorf(string, ...any) { r.failed = true }

func TestWantStatus(t *testing.T) {
	respErr := func(status int) error {
		return fmt.Errorf("operation X: %w", &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}}, Err: errors.New("boom")})
	}
	tests := []struct {
		name     string
		err      error
		wantFail bool
	}{
		{"the status", respErr(http.StatusBadRequest), false},
		{"another status", respErr(http.StatusNotFound), true},
		{"not an HTTP error", errors.New("dial refused"), true},
		{"no error", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{TB: t}
			WantStatus(r, tt.err, http.StatusBadRequest)
			if r.failed != tt.wantFail {
				t.Errorf("failed = %v, want %v", r.failed, tt.wantFail)
			}
		})
	}
}
