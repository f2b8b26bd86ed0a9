// Command hello is the sample target function of the seeds' scenario: it
// answers "Hello from Lambda" (version 1) or "Hello from Lambda World"
// (version 2) and says which version answered. HELLO_FAILURE_RATE (0–1), or
// the failureRate set at build time, makes that share of calls fail, for
// rollback demos — spread evenly, not at random (see steady): a run of
// calls shows about that share, and a process's first call passes at any
// rate below 0.6, so a smoke check retried a few times gets through a
// version that fails half its calls every time, not all but once in 2,048
// runs (11 attempts at random, which once failed a CI run).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strconv"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

// Set at build time with -ldflags "-X main.greeting=... -X main.failureRate=...".
var (
	greeting    = "Hello from Lambda"
	failureRate = "0"
)

// Answer is the JSON body hello returns.
type Answer struct {
	Message string `json:"message"`
	Version string `json:"version"`
	Stage   string `json:"stage,omitempty"`
}

type handler struct {
	greeting string
	version  string
	failRate float64
	roll     func() float64
}

func (h handler) handle(_ context.Context, req events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	if h.failRate > 0 && h.roll() < h.failRate {
		return events.APIGatewayProxyResponse{}, fmt.Errorf("hello %s: injected failure (failure rate %.2f)", h.version, h.failRate)
	}
	body, err := json.Marshal(Answer{Message: h.greeting, Version: h.version, Stage: req.RequestContext.Stage})
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	return events.APIGatewayProxyResponse{
		StatusCode: 200,
		Headers:    map[string]string{"Content-Type": "application/json", "X-Hello-Version": h.version},
		Body:       string(body),
	}, nil
}

// steady returns the fractional parts of n·(φ−1) for n = 1, 2, 3, …: a
// low-discrepancy (Weyl) sequence in [0, 1). Failing the calls whose value
// is below a rate r fails a share r of any run of calls, within a call or
// two, never many in a row unless r is near 1, and all of them at r = 1.
func steady() func() float64 {
	n := 0
	return func() float64 {
		n++
		_, frac := math.Modf(float64(n) * (math.Sqrt(5) - 1) / 2)
		return frac
	}
}

func parseRate(s string) (float64, error) {
	r, err := strconv.ParseFloat(s, 64)
	if err != nil || r < 0 || r > 1 {
		return 0, fmt.Errorf("failure rate %q must be a number between 0 and 1", s)
	}
	return r, nil
}

func main() {
	rateText := failureRate
	if v := os.Getenv("HELLO_FAILURE_RATE"); v != "" {
		rateText = v
	}
	rate, err := parseRate(rateText)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hello:", err)
		os.Exit(1)
	}
	h := handler{greeting: greeting, version: os.Getenv("AWS_LAMBDA_FUNCTION_VERSION"), failRate: rate, roll: steady()}
	lambda.Start(h.handle)
}
