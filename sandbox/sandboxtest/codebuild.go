package sandboxtest

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	codebuildsvc "github.com/aliasflow/aliasflow/sandbox/codebuild"
	"github.com/aliasflow/aliasflow/sandbox/core"
	"github.com/aliasflow/aliasflow/sandbox/internal/servicetest"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/smithy-go/middleware"
)

// CodeBuild is the sandbox's CodeBuild (sandbox/codebuild) served
// in-process. Builds are made with Service.RunBuild, as the local world
// makes them.
type CodeBuild struct {
	// Client is a real SDK client for the service; Asked sees the ids its
	// BatchGetBuilds calls name.
	Client *codebuild.Client
	// Service is the service itself (no event bus: RunBuild emits
	// nothing).
	Service *codebuildsvc.Service

	mu    sync.Mutex
	asked [][]string
	fails failQueue
}

// NewCodeBuild serves a sandbox CodeBuild with no builds until the test
// ends.
func NewCodeBuild(t testing.TB) *CodeBuild {
	t.Helper()
	c := &CodeBuild{Service: codebuildsvc.New(nil, nil)}
	cfg := servicetest.Config(t, "codebuild", http.HandlerFunc(c.serve))
	c.Client = codebuild.NewFromConfig(cfg, func(o *codebuild.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Initialize.Add(middleware.InitializeMiddlewareFunc("sandboxtest.asked", c.observe), middleware.Before)
		})
	})
	return c
}

func (c *CodeBuild) observe(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
	if p, ok := in.Parameters.(*codebuild.BatchGetBuildsInput); ok {
		c.mu.Lock()
		c.asked = append(c.asked, slices.Clone(p.Ids))
		c.mu.Unlock()
	}
	return next.HandleInitialize(ctx, in)
}

// Asked is the ids of each BatchGetBuilds call Client made, in order.
func (c *CodeBuild) Asked() [][]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.asked)
}

// Fail makes the next calls of op ("BatchGetBuilds"), one per error,
// answer that error as an awsJson1_1 service writes one (X-Amzn-ErrorType
// and {"__type","message"}): a throttle the SDK decodes as it would AWS's.
// The shape of Lambda.Fail.
func (c *CodeBuild) Fail(op string, errs ...*core.APIError) {
	c.fails.add(op, errs...)
}

func (c *CodeBuild) serve(w http.ResponseWriter, r *http.Request) {
	op := r.Header.Get("X-Amz-Target")
	op = op[strings.LastIndex(op, ".")+1:]
	if fail := c.fails.next(op); fail != nil {
		core.WriteAWSJSONError(w, "1.1", fail)
		return
	}
	c.Service.ServeHTTP(w, r)
}
