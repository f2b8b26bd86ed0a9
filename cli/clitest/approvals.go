package clitest

import (
	"context"
	"fmt"
	"net/url"
	"path"
	"sync"

	"github.com/aliasflow/aliasflow/shared/approval"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aws/aws-lambda-go/events"
)

// Approver is the approver entry the test targets map Caller to.
const Approver = "alice@example.com"

// Approvals is the approval API's IAM-authorized resources as API Gateway
// and the approval Lambda answer them, in process: API Gateway's part is
// to put the caller it verified into the request context (Caller, unless
// changed), the approval Lambda's is the real approval.Handler over the
// given Step Functions and the targets' current settings. It implements
// cli.ApprovalAPI.
type Approvals struct {
	mu sync.Mutex
	h  *approval.Handler
	// Caller is the principal ARN API Gateway reports for every call.
	Caller string
	// Targets are the current settings by function; a function not here
	// gets Input's target with Approver mapped to the package's Caller
	// (whatever the Caller field is changed to).
	Targets map[string]config.Target
	// Calls lists each request's resource and body.
	Calls []string
}

// NewApprovals serves the approval API over sf; lam, when not nil, is the
// Lambda it reads the aliases from (what a rejection left).
func NewApprovals(sf approval.StepFunctions, lam approval.Aliases) *Approvals {
	a := &Approvals{Caller: Caller, Targets: map[string]config.Target{}}
	a.h = approval.New(sf, nil, lam, nil, nil, nil, &approval.Options{Settings: a})
	return a
}

// Target implements approval.Settings.
func (a *Approvals) Target(_ context.Context, function string) (config.Target, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if t, ok := a.Targets[function]; ok {
		return t, nil
	}
	t := Input(function, "1", "").Target
	t.Approval.Principals = map[string][]string{Approver: {Caller}}
	return t, nil
}

// Invoke implements cli.ApprovalAPI.
func (a *Approvals) Invoke(ctx context.Context, address string, body []byte) (int, []byte, error) {
	u, err := url.Parse(address)
	if err != nil {
		return 0, nil, err
	}
	resource := "/" + path.Base(u.Path)
	a.mu.Lock()
	a.Calls = append(a.Calls, fmt.Sprintf("%s %s", resource, body))
	caller := a.Caller
	a.mu.Unlock()
	req := events.APIGatewayProxyRequest{HTTPMethod: "POST", Resource: resource, Path: resource, Body: string(body),
		Headers: map[string]string{"Content-Type": "application/json"}}
	req.RequestContext.Identity = events.APIGatewayRequestIdentity{UserArn: caller, SourceIP: "127.0.0.1", UserAgent: "aliasflow-test"}
	resp := a.h.ServeAPIGateway(ctx, req)
	return resp.StatusCode, []byte(resp.Body), nil
}
