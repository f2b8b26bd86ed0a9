// Package awsenv builds a Lambda function's SDK configuration from its
// execution environment alone (region, the role's credentials, an endpoint
// override). A function needs nothing of the default chain's shared files,
// SSO or IMDS providers, and leaving them out keeps each bootstrap under
// its 10 MB budget.
package awsenv

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"

	"github.com/aliasflow/aliasflow/shared/deploy"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go/middleware"
)

// LoopbackOnlyEnv, when set to 1, makes every connection to a non-loopback
// address fail before it is made. The Makefile's test targets and the
// sandbox set it for everything they run.
const LoopbackOnlyEnv = deploy.EnvLoopbackOnly

// Config reads AWS_REGION, the credentials Lambda puts in the environment
// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) and, when
// set, AWS_ENDPOINT_URL (the local sandbox).
func Config() (aws.Config, error) {
	region := os.Getenv("AWS_REGION")
	id, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	var missing []error
	if region == "" {
		missing = append(missing, errors.New("AWS_REGION is not set"))
	}
	if id == "" || secret == "" {
		missing = append(missing, errors.New("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set (Lambda sets them from the function's role)"))
	}
	if err := errors.Join(missing...); err != nil {
		return aws.Config{}, fmt.Errorf("aws config from the environment: %w", err)
	}
	cfg := aws.Config{
		Region:      region,
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(id, secret, os.Getenv("AWS_SESSION_TOKEN"))),
		HTTPClient:  awshttp.NewBuildableClient(),
		APIOptions:  []func(*middleware.Stack) error{WithPlainRequestBodies},
	}
	if ep := os.Getenv("AWS_ENDPOINT_URL"); ep != "" {
		cfg.BaseEndpoint = aws.String(ep)
	}
	if os.Getenv(LoopbackOnlyEnv) == "1" {
		cfg.HTTPClient = LoopbackOnlyClient()
	}
	return cfg, nil
}

// LoopbackOnlyClient is an SDK HTTP client whose dialer refuses any address
// that is not loopback.
func LoopbackOnlyClient() *awshttp.BuildableClient {
	return awshttp.NewBuildableClient().WithDialerOptions(func(d *net.Dialer) {
		d.Timeout = 5 * time.Second
		d.Control = refuseNonLoopback
	}).WithTransportOptions(func(t *http.Transport) {
		t.Proxy = nil // a proxy would hide the real destination from the dialer
	})
}

func refuseNonLoopback(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%s: refusing %s: %w", LoopbackOnlyEnv, address, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%s=1: refusing to connect to non-loopback address %s", LoopbackOnlyEnv, address)
	}
	return nil
}

// HTTPClient is the client for plain HTTP requests a Lambda makes (the smoke
// checks): fenced like the SDK clients when LoopbackOnlyEnv is 1,
// http.DefaultClient otherwise.
func HTTPClient() interface {
	Do(*http.Request) (*http.Response, error)
} {
	if os.Getenv(LoopbackOnlyEnv) == "1" {
		return LoopbackOnlyClient()
	}
	return http.DefaultClient
}
