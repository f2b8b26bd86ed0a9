package sandboxtest

import (
	"testing"

	"github.com/aliasflow/aliasflow/sandbox/internal/servicetest"
	stssvc "github.com/aliasflow/aliasflow/sandbox/sts"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// NewSTS serves the sandbox's STS until the test ends and returns a real
// SDK client signing with accessKeyID: GetCallerIdentity names the IAM
// user of that key, as the sandbox does for every caller
// (stssvc.Identity).
func NewSTS(t testing.TB, accessKeyID string) *sts.Client {
	t.Helper()
	cfg := servicetest.Config(t, "sts", stssvc.New())
	cfg.Credentials = aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(accessKeyID, "secret", ""))
	return sts.NewFromConfig(cfg)
}
