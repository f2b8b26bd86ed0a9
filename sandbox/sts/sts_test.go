package stssvc

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aliasflow/aliasflow/sandbox/core"
	"github.com/aliasflow/aliasflow/sandbox/internal/servicetest"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

// newTestClient signs as accessKey, the caller GetCallerIdentity names.
func newTestClient(t *testing.T, accessKey string) *sts.Client {
	t.Helper()
	cfg := servicetest.Config(t, "sts", New())
	cfg.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: "secret"}, nil
	})
	return sts.NewFromConfig(cfg)
}

func TestGetCallerIdentity(t *testing.T) {
	tests := []struct {
		name, key, wantArn string
	}{
		{"operator alice", "alice", "arn:aws:iam::000000000000:user/alice"},
		{"dummy key", "AKIAIOSFODNN7EXAMPLE", "arn:aws:iam::000000000000:user/AKIAIOSFODNN7EXAMPLE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := newTestClient(t, tt.key).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
			if err != nil {
				t.Fatal(err)
			}
			if got := aws.ToString(out.Arn); got != tt.wantArn {
				t.Errorf("Arn = %s, want %s", got, tt.wantArn)
			}
			if aws.ToString(out.Account) != core.Account || aws.ToString(out.UserId) != tt.key {
				t.Errorf("Account, UserId = %s, %s; want %s, %s", aws.ToString(out.Account), aws.ToString(out.UserId), core.Account, tt.key)
			}
		})
	}
}

func TestUnknownAction(t *testing.T) {
	_, err := newTestClient(t, "alice").GetSessionToken(context.Background(), &sts.GetSessionTokenInput{})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidAction" || !strings.Contains(apiErr.ErrorMessage(), "GetSessionToken") {
		t.Fatalf("err = %v, want InvalidAction naming GetSessionToken", err)
	}
	servicetest.WantStatus(t, err, http.StatusBadRequest)
}

func TestUnsignedRefused(t *testing.T) {
	srv := httptest.NewServer(New())
	defer srv.Close()
	resp, err := http.Post(srv.URL, "application/x-www-form-urlencoded", strings.NewReader("Action=GetCallerIdentity&Version=2011-06-15"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("status = %d, want 403", resp.StatusCode)
	}
}
