package sandboxtest

import (
	"net/http"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/internal/servicetest"
	logssvc "github.com/aliasflow/aliasflow/sandbox/logs"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
)

// Logs is the sandbox's CloudWatch Logs (sandbox/logs) served in-process.
type Logs struct {
	// Client is a real SDK client for the service.
	Client *cloudwatchlogs.Client
	// Service is the service itself: Append writes a line as a function
	// would.
	Service *logssvc.Service
}

// NewLogs serves an empty sandbox CloudWatch Logs until the test ends; now
// is its clock (time.Now when nil).
func NewLogs(t testing.TB, now func() time.Time) *Logs {
	t.Helper()
	if now == nil {
		now = time.Now
	}
	svc := logssvc.New(now)
	return &Logs{Service: svc, Client: cloudwatchlogs.NewFromConfig(servicetest.Config(t, "logs", svc))}
}

// Config is an SDK configuration whose calls go to h, a sandbox service
// served on loopback until the test ends, with dummy credentials: for a
// test that needs a service sandboxtest has no helper for (the sandbox's
// ssm.New, codebuild.New).
func Config(t testing.TB, service string, h http.Handler) aws.Config {
	t.Helper()
	return servicetest.Config(t, service, h)
}
