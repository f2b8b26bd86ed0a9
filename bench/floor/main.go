// Command floor is the hello-world aws-lambda-go function the benchmarks
// compare aliasflow's Lambdas with: the smallest binary and fastest init a
// Go Lambda can have, built the same way.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(context.Context, map[string]any) (string, error) { return "hello", nil })
}
