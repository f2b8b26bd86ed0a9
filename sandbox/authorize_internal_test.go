package sandbox

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestIAMRequests names the action and resources of calls of services the
// pipeline reaches through other helpers' sandbox services (SSM, CodeBuild).
func TestIAMRequests(t *testing.T) {
	cases := []struct {
		name, service, op, body string
		want                    []string
	}{
		{"ssm GetParameter", "ssm", "GetParameter", `{"Name":"/aliasflow/aliasflow/targets/hello"}`, []string{"ssm:GetParameter arn:aws:ssm:us-east-1:000000000000:parameter/aliasflow/aliasflow/targets/hello"}},
		{"ssm GetParameterHistory", "ssm", "GetParameterHistory", `{"Name":"/aliasflow/aliasflow/targets/hello"}`, []string{"ssm:GetParameterHistory arn:aws:ssm:us-east-1:000000000000:parameter/aliasflow/aliasflow/targets/hello"}},
		{"ssm GetParametersByPath", "ssm", "GetParametersByPath", `{"Path":"/aliasflow/aliasflow/targets"}`, []string{"ssm:GetParametersByPath arn:aws:ssm:us-east-1:000000000000:parameter/aliasflow/aliasflow/targets"}},
		{"codebuild BatchGetBuilds", "codebuild", "BatchGetBuilds", `{"ids":["aliasflow-hello:1","aliasflow-hello:2"]}`, []string{"codebuild:BatchGetBuilds arn:aws:codebuild:us-east-1:000000000000:project/aliasflow-hello"}},
		{"cloudwatch GetMetricData", "monitoring", "GetMetricData", `{}`, []string{"cloudwatch:GetMetricData *"}},
	}
	sb := &Sandbox{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, _ := http.NewRequest("POST", "http://127.0.0.1/", strings.NewReader(c.body))
			r.Header.Set("Content-Type", "application/x-amz-json-1.1")
			r.Header.Set("X-Amz-Target", "X."+c.op)
			reqs, err := sb.iamRequests(r, c.service, c.op)
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
