package servicetest

import (
	"net/http"
	"testing"
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
