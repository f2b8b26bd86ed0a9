package aliasflow_test

import (
	"slices"
	"sort"
	"testing"

	"github.com/aliasflow/aliasflow/infra/internal/cdktest"
	"github.com/aliasflow/aliasflow/shared/deploy"
)

// Each pipeline Lambda's environment in the synthesized template carries
// exactly the ALIASFLOW_* keys its main.go reads, as declared in
// shared/deploy (main.go reads them through deploy.<Function>.Getenv, which
// refuses an undeclared key).
func TestLambdaEnvironmentIsWhatMainReads(t *testing.T) {
	tmpl := cdktest.TemplateJSON(t, fx.pipeline)
	byName := map[string]map[string]any{}
	for _, props := range cdktest.Resources(tmpl, "AWS::Lambda::Function") {
		if name, ok := props["FunctionName"].(string); ok {
			byName[name] = props
		}
	}
	for _, f := range deploy.Functions {
		t.Run(f.Command, func(t *testing.T) {
			props, ok := byName[f.Name]
			if !ok {
				t.Fatalf("no AWS::Lambda::Function named %s in the pipeline stack", f.Name)
			}
			env, _ := props["Environment"].(map[string]any)
			vars, _ := env["Variables"].(map[string]any)
			var got []string
			for k := range vars {
				got = append(got, k)
			}
			sort.Strings(got)
			want := slices.Sorted(slices.Values(f.Env))
			if !slices.Equal(got, want) {
				t.Errorf("%s: template environment keys %v, main.go reads %v (deploy.%s.Env)", f.Name, got, want, f.Command)
			}
		})
	}
}
