// Package awsconfig loads the AWS SDK configuration the same way for every
// Lambda and the CLI, and can fence the process to loopback so a test or a
// sandbox run can never reach a real AWS host by accident.
package awsconfig

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
)

// LoopbackOnlyEnv, when set to 1, makes every connection to a non-loopback
// address fail before it is made. The Makefile's test targets and the
// sandbox set it for everything they run.
const LoopbackOnlyEnv = "ALIASFLOW_LOOPBACK_ONLY"

// Load returns the SDK configuration from the default chain
// (AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE> included).
func Load(ctx context.Context, optFns ...func(*config.LoadOptions) error) (aws.Config, error) {
	if os.Getenv(LoopbackOnlyEnv) == "1" {
		optFns = append([]func(*config.LoadOptions) error{config.WithHTTPClient(LoopbackOnlyClient())}, optFns...)
	}
	cfg, err := config.LoadDefaultConfig(ctx, optFns...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load aws config: %w", err)
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
