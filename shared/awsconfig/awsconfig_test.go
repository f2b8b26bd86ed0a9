package awsconfig

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aliasflow/aliasflow/shared/awsenv"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func TestLoopbackOnlyRefusesRealHosts(t *testing.T) {
	t.Setenv(awsenv.LoopbackOnlyEnv, "1")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ENDPOINT_URL", "")
	cfg, err := Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cfg.RetryMaxAttempts = 1
	// 203.0.113.1 is TEST-NET-3: never reached, the dialer must refuse before trying.
	client := sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = aws.String("http://203.0.113.1") })
	_, err = client.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err == nil || !strings.Contains(err.Error(), "non-loopback") {
		t.Fatalf("call to a non-loopback host: err = %v, want a refusal", err)
	}

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		_, _ = w.Write([]byte(`<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:iam::000000000000:user/test</Arn><UserId>test</UserId><Account>000000000000</Account></GetCallerIdentityResult></GetCallerIdentityResponse>`))
	}))
	defer srv.Close()
	loop := sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	out, err := loop.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(out.Account) != "000000000000" {
		t.Fatalf("loopback call: %v, %v", out, err)
	}
}
