package awsenv

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func TestConfigNamesWhatIsMissing(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	_, err := Config()
	if err == nil || !strings.Contains(err.Error(), "AWS_REGION") || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
		t.Fatalf("Config() err = %v, want one naming AWS_REGION and AWS_ACCESS_KEY_ID", err)
	}
}

func TestConfigUsesTheEnvironmentAndTheFence(t *testing.T) {
	var gotAuth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth = r.Header.Get("Authorization")
		w.Header().Set("Content-Type", "text/xml")
		_, _ = w.Write([]byte(`<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:iam::000000000000:user/fn</Arn><UserId>fn</UserId><Account>000000000000</Account></GetCallerIdentityResult></GetCallerIdentityResponse>`))
	}))
	defer srv.Close()
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "aliasflow-shift")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_SESSION_TOKEN", "token")
	t.Setenv("AWS_ENDPOINT_URL", srv.URL)
	t.Setenv(LoopbackOnlyEnv, "1")
	cfg, err := Config()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "eu-west-1" || aws.ToString(cfg.BaseEndpoint) != srv.URL {
		t.Errorf("region %q endpoint %q, want eu-west-1 and %s", cfg.Region, aws.ToString(cfg.BaseEndpoint), srv.URL)
	}
	if _, err := sts.NewFromConfig(cfg).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatalf("call through the endpoint: %v", err)
	}
	if !strings.Contains(gotAuth, "Credential=aliasflow-shift/") || !strings.Contains(gotAuth, "/eu-west-1/sts/") {
		t.Errorf("Authorization %q does not sign with the environment's key and region", gotAuth)
	}
	cfg.RetryMaxAttempts = 1
	// 203.0.113.1 is TEST-NET-3: the fence must refuse before dialling.
	far := sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = aws.String("http://203.0.113.1") })
	if _, err := far.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{}); err == nil || !strings.Contains(err.Error(), "non-loopback") {
		t.Fatalf("call to a non-loopback host: err = %v, want the fence's refusal", err)
	}
}
