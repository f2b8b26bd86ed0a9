package sandbox

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aliasflow/aliasflow/sandbox/model"
)

// TestIAMRequests names the action and resources of calls of services the
// pipeline reaches through other helpers' sandbox services (SSM, CodeBuild).
func TestIAMRequests(t *testing.T) {
	cases := []struct {
		name, service, op, body string
		method, path            string // a restJson1 request's; else awsJson with op as its target
		want                    []string
	}{
		{"ssm GetParameter", "ssm", "GetParameter", `{"Name":"/aliasflow/aliasflow/targets/hello"}`, "", "", []string{"ssm:GetParameter arn:aws:ssm:us-east-1:000000000000:parameter/aliasflow/aliasflow/targets/hello"}},
		{"ssm GetParameterHistory", "ssm", "GetParameterHistory", `{"Name":"/aliasflow/aliasflow/targets/hello"}`, "", "", []string{"ssm:GetParameterHistory arn:aws:ssm:us-east-1:000000000000:parameter/aliasflow/aliasflow/targets/hello"}},
		{"ssm GetParametersByPath", "ssm", "GetParametersByPath", `{"Path":"/aliasflow/aliasflow/targets"}`, "", "", []string{"ssm:GetParametersByPath arn:aws:ssm:us-east-1:000000000000:parameter/aliasflow/aliasflow/targets"}},
		{"codebuild BatchGetBuilds", "codebuild", "BatchGetBuilds", `{"ids":["aliasflow-hello:1","aliasflow-hello:2"]}`, "", "", []string{"codebuild:BatchGetBuilds arn:aws:codebuild:us-east-1:000000000000:project/aliasflow-hello"}},
		{"cloudwatch GetMetricData", "monitoring", "GetMetricData", `{}`, "", "", []string{"cloudwatch:GetMetricData *"}},
		// Lambda's operations act on the function, qualified when the call
		// names a version or alias ("Actions, resources, and condition
		// keys for AWS Lambda", Service Authorization Reference:
		// CreateFunction's resource type is function); the names come from
		// the model's reading of the path, query and body.
		{"lambda CreateFunction names its function in the body", "lambda", "", `{"FunctionName":"hello"}`, "POST", "/2015-03-31/functions",
			[]string{"lambda:CreateFunction arn:aws:lambda:us-east-1:000000000000:function:hello"}},
		{"lambda GetFunction with a Qualifier", "lambda", "", "", "GET", "/2015-03-31/functions/hello?Qualifier=7",
			[]string{"lambda:GetFunction arn:aws:lambda:us-east-1:000000000000:function:hello:7"}},
		{"lambda Invoke of an alias ARN", "lambda", "", `{}`, "POST", "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Ahello%3Aprod/invocations",
			[]string{"lambda:InvokeFunction arn:aws:lambda:us-east-1:000000000000:function:hello:prod"}},
		{"lambda ListFunctions names no function", "lambda", "", "", "GET", "/2015-03-31/functions/", []string{"lambda:ListFunctions *"}},
	}
	sb := &Sandbox{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			models, err := model.Default()
			if err != nil {
				t.Fatal(err)
			}
			svc, err := models.Service(c.service)
			if err != nil {
				t.Fatal(err)
			}
			r, _ := http.NewRequest("POST", "http://127.0.0.1/", strings.NewReader(c.body))
			r.Header.Set("Content-Type", "application/x-amz-json-1.1")
			r.Header.Set("X-Amz-Target", svc.TargetPrefix+"."+c.op)
			if c.path != "" {
				r, _ = http.NewRequest(c.method, "http://127.0.0.1"+c.path, strings.NewReader(c.body))
				r.Header.Set("Content-Type", "application/json")
			}
			_, req, err := models.Attach(r, c.service)
			if err != nil {
				t.Fatal(err)
			}
			reqs, err := sb.iamRequests(req, c.service)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, q := range reqs {
				got = append(got, q.Action+" "+q.Resource)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}
