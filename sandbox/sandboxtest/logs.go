package sandboxtest

import (
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/internal/servicetest"
	logssvc "github.com/aliasflow/aliasflow/sandbox/logs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
)

// Logs is the sandbox's CloudWatch Logs (sandbox/logs) served in-process:
// write log lines with Service.Append, as the sandbox's functions do, and
// read them with Client, as the code under test does.
type Logs struct {
	Client  *cloudwatchlogs.Client
	Service *logssvc.Service
}

// NewLogs serves an empty sandbox CloudWatch Logs until the test ends; now
// is its clock (ingestion times), time.Now when nil.
func NewLogs(t testing.TB, now func() time.Time) *Logs {
	t.Helper()
	svc := logssvc.New(now)
	return &Logs{Service: svc, Client: cloudwatchlogs.NewFromConfig(servicetest.Config(t, "logs", svc))}
}
