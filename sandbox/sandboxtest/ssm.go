package sandboxtest

import (
	"net/http"
	"sync"
	"testing"

	"github.com/aliasflow/aliasflow/sandbox/core"
	"github.com/aliasflow/aliasflow/sandbox/internal/servicetest"
	ssmsvc "github.com/aliasflow/aliasflow/sandbox/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// Operator is the caller NewSSM's requests are signed as: an operator's
// assumed-role session.
var Operator = core.Caller{Type: "AssumedRole", ARN: "arn:aws:sts::" + core.Account + ":assumed-role/aliasflow-operators/operator",
	AccessKeyID: "operator", UserAgent: "aliasflow", SourceIP: "127.0.0.1"}

// SSM is the sandbox's Parameter Store behind a loopback server, called
// as Operator, with the CloudTrail records of its successful calls kept
// as EventBridge would deliver them.
type SSM struct {
	Client  *ssm.Client
	Service *ssmsvc.Service

	mu      sync.Mutex
	records []string
}

// NewSSM serves an empty Parameter Store for t.
func NewSSM(t testing.TB) *SSM {
	t.Helper()
	s := &SSM{Service: ssmsvc.New(nil)}
	s.Service.SetEventBus(s)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.Service.ServeHTTP(w, r.WithContext(core.WithCaller(r.Context(), Operator)))
	})
	s.Client = ssm.NewFromConfig(servicetest.Config(t, "ssm", h))
	return s
}

// EmitServiceEvent keeps a CloudTrail record (ssmsvc.EventBus).
func (s *SSM) EmitServiceEvent(source, detailType, detail string, _ []string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records = append(s.records, detail)
	return "id", nil
}

// CloudTrail is the details of the CloudTrail records delivered so far.
func (s *SSM) CloudTrail() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.records...)
}
