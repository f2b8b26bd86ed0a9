package awsenv_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/sandbox"
	"github.com/aliasflow/aliasflow/shared/awsenv"
	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/smithy-go/middleware"
)

// lateConn returns from each Write a while after the bytes left, as the
// transport's writer goroutine does when the scheduler parks it right after
// the syscall on a loaded machine: the answer then arrives (and the SDK
// closes the request body) before the writer finishes its bookkeeping. It
// reads in small slow pieces, so the answer is still being read then.
type lateConn struct{ net.Conn }

func (c lateConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	time.Sleep(5 * time.Millisecond)
	return n, err
}

func (c lateConn) Read(b []byte) (int, error) {
	time.Sleep(time.Millisecond)
	return c.Conn.Read(b[:min(len(b), 4<<10)])
}

// TestFastAnswerKeepsItsConnection reproduces the flake `aliasflow approve`
// showed against the sandbox (2 in 150 runs: "GetExecutionHistory …
// deserialization failed … use of closed network connection") by making the
// race certain, and shows WithPlainRequestBodies ends it.
func TestFastAnswerKeepsItsConnection(t *testing.T) {
	sb, err := sandbox.Start(t.Context(), sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	sm, err := sb.States().CreateStateMachine("wait", `{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":3600,"End":true}}}`, "arn:aws:iam::000000000000:role/r")
	if err != nil {
		t.Fatal(err)
	}
	// An answer longer than what one read brings in: the client reads the
	// connection again while decoding it, as for a real promotion's history.
	ex, err := sb.States().StartExecution(t.Context(), sm, "run", `{"pad":"`+strings.Repeat("x", 64<<10)+`"}`)
	if err != nil {
		t.Fatal(err)
	}
	late := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.Proxy = nil
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return lateConn{c}, nil
		}
	})
	const calls = 40
	cases := []struct {
		name       string
		apiOptions []func(*middleware.Stack) error
		wantFailed bool
	}{
		{"SDK defaults lose connections", nil, true},
		{"WithPlainRequestBodies loses none", []func(*middleware.Stack) error{awsenv.WithPlainRequestBodies}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			client := sfn.NewFromConfig(aws.Config{
				Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
				BaseEndpoint: aws.String(sb.Endpoint()), HTTPClient: late, RetryMaxAttempts: 1, APIOptions: tc.apiOptions,
			})
			failed := 0
			var first error
			for range calls {
				_, err := client.GetExecutionHistory(t.Context(), &sfn.GetExecutionHistoryInput{
					ExecutionArn: aws.String(ex), IncludeExecutionData: aws.Bool(true), MaxResults: 1000, ReverseOrder: true,
				})
				if err != nil {
					failed++
					if first == nil {
						first = err
					}
				}
			}
			t.Logf("%d of %d calls failed (first: %v)", failed, calls, first)
			if (failed > 0) != tc.wantFailed {
				t.Errorf("%d of %d calls failed, want failures: %v (first: %v)", failed, calls, tc.wantFailed, first)
			}
		})
	}
}
