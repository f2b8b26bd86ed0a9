package main

import (
	"context"
	"encoding/json"
	"math"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func TestHandle(t *testing.T) {
	tests := []struct {
		name     string
		h        handler
		wantErr  bool
		wantBody Answer
	}{
		{"answers with its version", handler{greeting: "Hello from Lambda World", version: "2", roll: func() float64 { return 0.5 }},
			false, Answer{Message: "Hello from Lambda World", Version: "2", Stage: "staging"}},
		{"fails below the failure rate", handler{greeting: "x", version: "3", failRate: 0.3, roll: func() float64 { return 0.29 }}, true, Answer{}},
		{"passes above the failure rate", handler{greeting: "x", version: "3", failRate: 0.3, roll: func() float64 { return 0.3 }},
			false, Answer{Message: "x", Version: "3", Stage: "staging"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := events.APIGatewayProxyRequest{RequestContext: events.APIGatewayProxyRequestContext{Stage: "staging"}}
			resp, err := tc.h.handle(context.Background(), req)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			var got Answer
			if err := json.Unmarshal([]byte(resp.Body), &got); err != nil {
				t.Fatalf("body %q: %v", resp.Body, err)
			}
			if got != tc.wantBody || resp.StatusCode != 200 {
				t.Errorf("got %d %+v, want 200 %+v", resp.StatusCode, got, tc.wantBody)
			}
		})
	}
}

func TestParseRate(t *testing.T) {
	for _, bad := range []string{"-0.1", "1.5", "half", ""} {
		if _, err := parseRate(bad); err == nil {
			t.Errorf("parseRate(%q) accepted a bad rate", bad)
		}
	}
	if r, err := parseRate("0.25"); err != nil || r != 0.25 {
		t.Errorf("parseRate(0.25) = %v, %v", r, err)
	}
}

// The injected failures are spread evenly: any 100 consecutive calls fail
// about the rate's share, a process's first call passes below 0.6, a rate
// of 0.5 never fails more than two calls in a row, 1 fails every call and
// 0 none.
func TestSteadyFailures(t *testing.T) {
	for _, rate := range []float64{0, 0.02, 0.3, 0.5, 0.9, 1} {
		roll := steady()
		fails := make([]bool, 1000)
		for i := range fails {
			fails[i] = roll() < rate
		}
		for start := 0; start+100 <= len(fails); start += 50 {
			n := 0
			for _, f := range fails[start : start+100] {
				if f {
					n++
				}
			}
			if want := rate * 100; math.Abs(float64(n)-want) > 2 {
				t.Errorf("rate %.2f: calls %d–%d had %d failures, want %.0f ± 2", rate, start+1, start+100, n, want)
			}
		}
		if rate < 0.6 && fails[0] {
			t.Errorf("rate %.2f: the first call failed", rate)
		}
		if rate == 0.5 {
			run, longest := 0, 0
			for i := range fails {
				if !fails[i] {
					run = 0
					continue
				}
				run++
				longest = max(longest, run)
			}
			if longest > 2 {
				t.Errorf("rate 0.5: %d failures in a row, want at most 2", longest)
			}
		}
	}
}
