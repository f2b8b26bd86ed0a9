// Command initfail is a test function whose init fails: with INIT_FAIL=report
// it reports the failure through the Runtime API's /runtime/init/error (as
// runtimes that catch their init errors do) and exits; otherwise it exits
// before asking for an event, as a Go function whose main fails does.
package main

import (
	"fmt"
	"net/http"
	"os"
	"strings"
)

func main() {
	fmt.Println("initfail: starting")
	if os.Getenv("INIT_FAIL") == "report" {
		req, err := http.NewRequest(http.MethodPost, "http://"+os.Getenv("AWS_LAMBDA_RUNTIME_API")+"/2018-06-01/runtime/init/error",
			strings.NewReader(`{"errorMessage":"missing setting X","errorType":"ConfigError"}`))
		if err == nil {
			req.Header.Set("Lambda-Runtime-Function-Error-Type", "ConfigError")
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}
	}
	fmt.Fprintln(os.Stderr, "initfail: cannot start")
	os.Exit(1)
}
