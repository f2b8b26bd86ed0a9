package cli_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/cli"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/smithy-go"
)

// countingStates counts the Step Functions reads the CLI makes and, while
// throttle is positive, answers that many reads with ThrottlingException as
// Step Functions does when a bucket is empty.
type countingStates struct {
	*sfn.Client
	mu                               sync.Mutex
	lists, describes, histories, got int
	throttle                         int
}

func (c *countingStates) throttled() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.throttle > 0 {
		c.throttle--
		return &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}
	}
	return nil
}

func (c *countingStates) ListStateMachines(ctx context.Context, in *sfn.ListStateMachinesInput, opts ...func(*sfn.Options)) (*sfn.ListStateMachinesOutput, error) {
	c.mu.Lock()
	c.lists++
	c.mu.Unlock()
	return c.Client.ListStateMachines(ctx, in, opts...)
}

func (c *countingStates) DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, opts ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	if err := c.throttled(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.describes++
	c.mu.Unlock()
	return c.Client.DescribeExecution(ctx, in, opts...)
}

func (c *countingStates) GetExecutionHistory(ctx context.Context, in *sfn.GetExecutionHistoryInput, opts ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error) {
	if err := c.throttled(); err != nil {
		return nil, err
	}
	out, err := c.Client.GetExecutionHistory(ctx, in, opts...)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.histories++
	if out != nil {
		c.got += len(out.Events)
	}
	return out, err
}

// A named state machine is made an ARN from the caller's account and the
// region, not looked up: ListStateMachines' bucket refills at 5 calls a
// second ("Step Functions service quotas"), and the bench's approvals
// emptied it (32,535 throttles).
func TestNamedStateMachineIsNotListed(t *testing.T) {
	cases := []struct {
		name string
		args func(exec string) []string
	}{
		{"approve a promotion", func(exec string) []string { return []string{"approve", exec, "--comment", "ok"} }},
		{"approve by function", func(string) []string { return []string{"approve", "hello", "--comment", "ok"} }},
		{"reject a promotion", func(exec string) []string { return []string{"reject", exec, "--comment", "no"} }},
		{"status of a function", func(string) []string { return []string{"status", "hello"} }},
		{"watch until it ends", func(exec string) []string { return []string{"watch", exec} }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			cs := &countingStates{Client: w.states.SFN}
			w.sfn = cs
			s := w.start(t, "2").Smoke(true).AwaitApproval()
			w.onSleep = func(n int) {
				if n == 1 {
					s.Approve("bob@example.com").BeginShift("1").Bake().BakeOver().Finalize()
				}
			}
			code, out, errs := w.run(t, append(c.args(s.Name()), "--region", "us-east-1")...)
			wantCode(t, code, cli.ExitOK, out, errs)
			if cs.lists != 0 {
				t.Errorf("ListStateMachines calls = %d; want 0", cs.lists)
			}
		})
	}
}

// watch reads only what is new: one DescribeExecution at the start and one
// when the history says the execution ended, and each history event once;
// while nothing changes its polls back off.
func TestWatchReadsIncrementallyAndBacksOff(t *testing.T) {
	w := newWorld(t)
	cs := &countingStates{Client: w.states.SFN}
	w.sfn = cs
	s := w.start(t, "2").Smoke(true).AwaitApproval()
	// The approver takes two minutes; the watch polls every second.
	const approvalAfter = 2 * time.Minute
	approved, ended := false, false
	w.onSleep = func(int) {
		switch {
		case !approved && w.slept >= approvalAfter:
			approved = true
			s.Approve("bob@example.com").BeginShift("1").Bake()
		case approved && !ended && w.slept >= approvalAfter+time.Minute:
			ended = true
			s.BakeOver().Finalize()
		}
	}
	code, out, errs := w.run(t, "watch", s.Name(), "--interval", "1s", "--region", "us-east-1")
	wantCode(t, code, cli.ExitOK, out, errs)
	wantContains(t, "watch", out, "awaiting approval", "baking at 10%", "completed: prod on version 2")
	history, err := w.states.SFN.GetExecutionHistory(context.Background(), &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(s.ARN)})
	if err != nil {
		t.Fatal(err)
	}
	total := len(history.Events)
	// The first read takes the whole history; each later poll the newest
	// page of ten (promotion.ScanRecent), not the whole history again.
	if limit := total + 10*(cs.histories-1); cs.got > limit {
		t.Errorf("history events read = %d in %d calls; want at most %d (the history of %d once, then a page of 10 a poll)", cs.got, cs.histories, limit, total)
	}
	if cs.describes > 2 {
		t.Errorf("DescribeExecution calls = %d; want at most 2 (the start and the end)", cs.describes)
	}
	// Three minutes at one poll a second would be 180 reads; backing off to
	// 15 s while nothing changes makes it a few dozen at most.
	if polls := cs.histories; polls > 40 {
		t.Errorf("GetExecutionHistory calls = %d over %s; want at most 40 (polls back off while nothing changes)", polls, w.slept)
	}
}

// A throttled read is waited out, not fatal.
func TestWatchWaitsOutThrottling(t *testing.T) {
	cases := []struct {
		name     string
		throttle int
	}{
		{"first read throttled", 1},
		{"five reads throttled", 5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			cs := &countingStates{Client: w.states.SFN, throttle: c.throttle}
			w.sfn = cs
			s := w.start(t, "2")
			s.Smoke(true).AwaitApproval().Approve("bob@example.com").BeginShift("1").Bake().BakeOver().Finalize()
			code, out, errs := w.run(t, "watch", s.Name(), "--region", "us-east-1")
			wantCode(t, code, cli.ExitOK, out, errs)
			wantContains(t, "stderr", errs, "throttled")
			if w.slept == 0 {
				t.Errorf("slept %s; want a wait before each retried read", w.slept)
			}
		})
	}
}
