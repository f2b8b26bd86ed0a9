package main

import (
	"fmt"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"

	"github.com/aliasflow/aliasflow/infra/internal/cdktest"
	"github.com/aliasflow/aliasflow/shared/config"
)

// TestTargetsFileAtScale: a targets file of many functions deployed by
// other tools is spread over stacks that each stay within
// CloudFormation's 500 resources ("Resources: 500", CloudFormation
// quotas), every target registered with the pipeline; a small file stays
// in the pipeline stack alone.
func TestTargetsFileAtScale(t *testing.T) {
	if testing.Short() {
		t.Skip("synthesizes up to 200 imported targets")
	}
	const maxResources = 500
	tests := []struct {
		name       string
		n          int
		wantStacks int
	}{
		{name: "one stack's worth", n: TargetsPerStack, wantStacks: 1},
		{name: "200 targets", n: 200, wantStacks: 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := cdktest.PlaceholderAssets(dir); err != nil {
				t.Fatal(err)
			}
			opts, err := readOptions(context(map[string]any{ctxAssetDir: dir, ctxApproverEmails: "ops@example.com", ctxSample: "false", ctxTargetsFile: "targets.json"}))
			if err != nil {
				t.Fatal(err)
			}
			targets := make([]config.Target, tc.n)
			for i := range targets {
				targets[i] = config.Target{Function: fmt.Sprintf("fn%03d", i+1), Approvers: []string{"lead@example.com"},
					Strategy: config.StrategyConfig{Type: config.Canary, Percent: 10, BakeSeconds: 300}}
			}
			app := awscdk.NewApp(nil)
			got := build(app, opts, targets)
			if n := len(*app.Node().Children()); n != tc.wantStacks {
				t.Errorf("app has %d stacks, want %d", n, tc.wantStacks)
			}
			if n := len(got.pipeline.Pipeline.Targets()); n != tc.n {
				t.Errorf("%d targets registered with the pipeline, want %d", n, tc.n)
			}
			for _, s := range append([]awscdk.Stack{got.pipeline.Stack}, got.pipeline.TargetStacks...) {
				tmpl := cdktest.TemplateJSON(t, s)
				if n := len(tmpl["Resources"].(map[string]any)); n > maxResources {
					t.Errorf("stack %s has %d resources, CloudFormation allows %d", *s.StackName(), n, maxResources)
				}
			}
		})
	}
}
