package local_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/local"
)

// TestTargetAdoptsExistingAliases holds docs/deploy.md's adoption statement
// to the synthesized stack: the target construct's Custom::AliasflowAlias
// calls CreateAlias once and treats ResourceConflictException as adoption
// (its ignoreErrorCodesMatching), so an alias that served before aliasflow
// keeps serving, on its own version, and only a missing one is created on
// the version the first deploy published. The pre-existing aliases are
// AWS::Lambda::Alias resources added to the sample's template ahead of the
// custom resources (the world applies plain aliases first), on $LATEST —
// a version the custom resources never name.
func TestTargetAdoptsExistingAliases(t *testing.T) {
	src := templatesDir(t)
	for _, c := range []struct {
		name     string
		existing []string          // aliases of hello that exist before the target's custom resources run
		want     map[string]string // alias → version after the deploy
	}{
		{"no alias exists: both created on the first deploy's version", nil, map[string]string{"stg": "1", "prod": "1"}},
		{"prod exists: adopted on its version, stg created", []string{"prod"}, map[string]string{"stg": "1", "prod": "$LATEST"}},
		{"stg and prod exist: both adopted", []string{"stg", "prod"}, map[string]string{"stg": "$LATEST", "prod": "$LATEST"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, stack := range []string{"AliasflowPipeline", "AliasflowSample"} {
				b, err := os.ReadFile(filepath.Join(src, stack+".template.json"))
				if err != nil {
					t.Fatal(err)
				}
				if stack == "AliasflowSample" {
					b = withExistingAliases(t, b, local.HelloFunction, c.existing)
				}
				if err := os.WriteFile(filepath.Join(dir, stack+".template.json"), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			w, err := local.Start(ctx, local.Options{BinDir: binDir(t), Templates: dir, EventRetryDelays: []time.Duration{}})
			if err != nil {
				t.Fatalf("Start with pre-existing aliases %v: %v, want the target to adopt them", c.existing, err)
			}
			t.Cleanup(func() { _ = w.Close() })
			for alias, want := range c.want {
				a, err := w.Sandbox().Lambda().GetAlias(local.HelloFunction, alias)
				if err != nil {
					t.Errorf("GetAlias %s: %v", alias, err)
					continue
				}
				if a.FunctionVersion != want {
					t.Errorf("alias %s is on version %s after the deploy, want %s", alias, a.FunctionVersion, want)
				}
			}
		})
	}
}

// withExistingAliases adds to a template an AWS::Lambda::Alias on $LATEST
// for each of aliases of function, as another tool would have created it.
func withExistingAliases(t *testing.T, template []byte, function string, aliases []string) []byte {
	t.Helper()
	var tpl struct{ Resources map[string]map[string]any }
	var raw map[string]any
	if err := json.Unmarshal(template, &raw); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(template, &tpl); err != nil {
		t.Fatal(err)
	}
	fnID := ""
	for id, r := range tpl.Resources {
		if p, _ := r["Properties"].(map[string]any); r["Type"] == "AWS::Lambda::Function" && p["FunctionName"] == function {
			fnID = id
		}
	}
	if fnID == "" {
		t.Fatalf("the template defines no function %s", function)
	}
	resources := raw["Resources"].(map[string]any)
	for _, a := range aliases {
		resources["PreExisting"+a] = map[string]any{"Type": "AWS::Lambda::Alias", "Properties": map[string]any{
			"FunctionName": map[string]any{"Ref": fnID}, "FunctionVersion": "$LATEST", "Name": a,
			"Description": "served before aliasflow",
		}}
	}
	b, err := json.Marshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
