// Package servicetest serves a sandbox service to a real AWS SDK client in
// tests, the way every service's tests do it: a loopback server that, like
// the sandbox's dispatcher, serves only requests signed for the service,
// and SDK settings with dummy credentials, the loopback-only HTTP client and
// no retries (a test wants to see the first answer).
package servicetest

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aliasflow/aliasflow/sandbox/core"
	"github.com/aliasflow/aliasflow/shared/awsenv"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// RequireSigned stands in for the sandbox's dispatcher: it passes to h only
// requests carrying a SigV4 Authorization scoped to the sandbox's region
// and the named service ("logs", "states", "monitoring", …).
func RequireSigned(service string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 ") || !strings.Contains(auth, "/"+core.Region+"/"+service+"/aws4_request") {
			http.Error(w, "unsigned", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Server serves h behind RequireSigned on a loopback address until the
// test ends.
func Server(t testing.TB, service string, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(RequireSigned(service, h))
	t.Cleanup(srv.Close)
	return srv
}

// Config serves h as Server does and returns the SDK settings that reach
// it; build the client with the service's NewFromConfig.
func Config(t testing.TB, service string, h http.Handler) aws.Config {
	t.Helper()
	return aws.Config{
		Region:       core.Region,
		BaseEndpoint: aws.String(Server(t, service, h).URL),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDTEST", SecretAccessKey: "secret"}, nil
		}),
		HTTPClient:       awsenv.LoopbackOnlyClient(),
		RetryMaxAttempts: 1,
		APIOptions:       []func(*middleware.Stack) error{awsenv.WithPlainRequestBodies},
	}
}

// WantStatus reports a test error unless err came from an HTTP response
// with the given status.
func WantStatus(t testing.TB, err error, status int) {
	t.Helper()
	var re *smithyhttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != status {
		t.Errorf("err = %v, want HTTP %d", err, status)
	}
}

// WantError reports a test error unless err is the AWS error code with
// the HTTP status, whether it came over the wire (an SDK error) or from a
// service's Go API (a *core.APIError, as the service would answer it).
func WantError(t testing.TB, err error, code string, status int) {
	t.Helper()
	var goErr *core.APIError
	if errors.As(err, &goErr) {
		if goErr.Code != code || goErr.Status != status {
			t.Errorf("err = %v (HTTP %d), want %s (HTTP %d)", err, goErr.Status, code, status)
		}
		return
	}
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != code {
		t.Errorf("err = %v, want code %s", err, code)
		return
	}
	WantStatus(t, err, status)
}
