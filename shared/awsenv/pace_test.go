package awsenv_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/shared/awsenv"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"golang.org/x/time/rate"
)

// answering is an HTTP client that answers every request 200 with an
// empty JSON object, counting the requests by path.
type answering struct {
	mu   sync.Mutex
	seen []string
}

func (a *answering) Do(r *http.Request) (*http.Response, error) {
	a.mu.Lock()
	a.seen = append(a.seen, r.URL.Path)
	a.mu.Unlock()
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader("{}")), Request: r}, nil
}

// TestPacedWaitsForTheRateButNotForExemptOperations: a paced client sends
// control-plane requests no faster than its limiter allows (Lambda's
// control plane is 15 requests/s per account and Region, shared by every
// execution environment: "Lambda quotas", API requests), and Invoke, which
// no request rate limits, at once.
func TestPacedWaitsForTheRateButNotForExemptOperations(t *testing.T) {
	tests := []struct {
		name    string
		call    func(ctx context.Context, c *lambda.Client) error
		n       int
		minTime time.Duration
	}{
		{name: "GetAlias paced at 10/s, burst 1", n: 6, minTime: 500 * time.Millisecond,
			call: func(ctx context.Context, c *lambda.Client) error {
				_, err := c.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String("hello"), Name: aws.String("prod")})
				return err
			}},
		{name: "Invoke exempt", n: 6, minTime: 0,
			call: func(ctx context.Context, c *lambda.Client) error {
				_, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hello")})
				return err
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lim := rate.NewLimiter(10, 1)
			http := &answering{}
			c := lambda.New(lambda.Options{Region: "us-east-1", HTTPClient: http, BaseEndpoint: aws.String("http://127.0.0.1:9"),
				Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")},
				func(o *lambda.Options) { o.APIOptions = append(o.APIOptions, awsenv.Paced(lim, "Invoke")) })
			began := time.Now()
			for range tc.n {
				if err := tc.call(context.Background(), c); err != nil {
					t.Fatal(err)
				}
			}
			if got := time.Since(began); got < tc.minTime {
				t.Errorf("%d calls took %s, want at least %s", tc.n, got, tc.minTime)
			}
			if len(http.seen) != tc.n {
				t.Errorf("requests sent = %d, want %d", len(http.seen), tc.n)
			}
			// Invoke takes no token: the limiter's one token is still there.
			if tc.minTime == 0 && !lim.Allow() {
				t.Errorf("the limiter's token was taken by an exempt operation")
			}
		})
	}
}
