// Command echo is a test function for the sandbox's Lambda: it answers with
// what it knows about itself and, on request, logs, sleeps, fails, panics, exits or answers a
// payload of a given size.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type input struct {
	Log     string `json:"log"`
	SleepMs int    `json:"sleepMs"`
	Fail    string `json:"fail"`
	Exit    int    `json:"exit"`
	Env     string `json:"env"`
	Panic   string `json:"panic"`
	Big     int    `json:"big"` // answer with a string of this many bytes
}

func handle(ctx context.Context, in input) (map[string]any, error) {
	if in.Log != "" {
		fmt.Println(in.Log)
	}
	if in.SleepMs > 0 {
		time.Sleep(time.Duration(in.SleepMs) * time.Millisecond)
	}
	if in.Exit != 0 {
		os.Exit(in.Exit)
	}
	if in.Panic != "" {
		panic(in.Panic)
	}
	if in.Big > 0 {
		return map[string]any{"big": strings.Repeat("x", in.Big)}, nil
	}
	if in.Fail != "" {
		return nil, errors.New(in.Fail)
	}
	lc, _ := lambdacontext.FromContext(ctx)
	deadline, _ := ctx.Deadline()
	return map[string]any{
		"version":   os.Getenv("AWS_LAMBDA_FUNCTION_VERSION"),
		"name":      os.Getenv("AWS_LAMBDA_FUNCTION_NAME"),
		"memory":    os.Getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"),
		"logGroup":  os.Getenv("AWS_LAMBDA_LOG_GROUP_NAME"),
		"region":    os.Getenv("AWS_REGION"),
		"env":       os.Getenv(in.Env),
		"requestId": lc.AwsRequestID,
		"arn":       lc.InvokedFunctionArn,
		"deadline":  deadline.UnixMilli(),
		"pid":       os.Getpid(),
	}, nil
}

func main() { lambda.Start(handle) }
