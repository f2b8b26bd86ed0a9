package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	lambdasvc "github.com/aliasflow/aliasflow/sandbox/lambda"
	"github.com/aliasflow/aliasflow/sandbox/local"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aliasflow/aliasflow/shared/settings"
	"github.com/aws/aws-sdk-go-v2/aws"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// TestGroupThirdMemberCanaryFails (issue 20, item 2): a group of three
// functions released together shifts in lockstep through one canary; the
// third member's alarm fires during the bake, and every member goes back to
// its stable version, with exactly one audit record per alias move. The
// execution is started through the world's Step Functions with a group
// input built here, as a group release starts it; everything after is the
// real definition and the real pipeline Lambdas.
func TestGroupThirdMemberCanaryFails(t *testing.T) {
	t.Parallel()
	s := newScenario(t, nil)
	members := []string{"api-a", "api-b", "api-c"}
	strategy := config.StrategyConfig{Type: config.Canary, Percent: 50, BakeSeconds: 3}
	in := promotion.Input{Group: "api", Steps: promotion.Plan(strategy)}
	var lines []string
	for _, name := range members {
		sha := s.groupMember(name)
		tg := helloTarget(s.ep)
		tg.Function, tg.CodeBuildProjects, tg.Strategy = name, nil, strategy
		tg.SmokeChecks = tg.SmokeChecks[:1] // invoke stg; the HTTP check is hello's stage
		tg.SmokeChecks[0].Invoke.BodyContains = greetingV3
		// Judged by probes and alarms: the pipeline reads the log groups
		// of the targets it was deployed with only.
		tg.Health.Alarms, tg.Health.FreshSignal, tg.Health.LogRuntime, tg.Health.Probes = nil, "", "", 2
		if name == "api-c" {
			tg.Health.Alarms = []string{prodAlarm} // the third member's alarm
		}
		tg.Health.MaxBakeSeconds = strategy.BakeSeconds
		tg.ApplyDefaults()
		// The member's settings, as its target's stack writes them: the
		// approval page reads them.
		doc, err := settings.Encode(tg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.parameters().PutParameter(s.ctx, &ssm.PutParameterInput{Name: aws.String(settings.ParameterName(settings.DefaultPipeline, name)),
			Value: aws.String(doc), Type: ssmtypes.ParameterTypeString, Overwrite: aws.Bool(true)}); err != nil {
			t.Fatalf("settings of %s: %v", name, err)
		}
		in.Members = append(in.Members, promotion.Member{Function: name, Version: "2", PreviousStgVersion: "1", Target: tg,
			Release: promotion.Release{CodeSha256: sha, Commit: "c0ffee3", RequestedBy: requester, Source: "aliasflow"}})
		lines = append(lines, name+"\t2\t"+sha+"\n")
	}
	first := in.Members[0]
	in.Function, in.Version, in.PreviousStgVersion, in.Release, in.Target = first.Function, first.Version, first.PreviousStgVersion, first.Release, first.Target
	// The group's execution name (identity: <group>-g<tag>, tag the first
	// 4 bytes of sha256 over the members' lines sorted by function).
	sum := sha256.Sum256([]byte(strings.Join(lines, "")))
	name := "api-g" + hex.EncodeToString(sum[:4])
	if got := promotion.GroupExecutionName(in.Group, in.Members); got != name {
		t.Fatalf("GroupExecutionName = %s, want %s (the identity agreed for groups)", got, name)
	}
	raw, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	started, err := s.sfn.StartExecution(s.ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(s.world().StateMachineARN()),
		Name: aws.String(name), Input: aws.String(string(raw))})
	if err != nil {
		t.Fatalf("start the group's execution: %v", err)
	}
	p := &promo{version: "2", name: name, arn: aws.ToString(started.ExecutionArn)}

	s.approveByLink(p, approver)
	s.waitWaiting(p, "Bake")
	eventually(t, stepTimeout, func() error {
		if got, want := s.memberProds(members), "api-a=1 + 2@0.5 api-b=1 + 2@0.5 api-c=1 + 2@0.5"; got != want {
			return fmt.Errorf("prod during the group's canary: %s, want %s", got, want)
		}
		return nil
	})
	s.setAlarm(prodAlarm, cwtypes.StateValueAlarm, "e2e: api-c's users report errors")
	out := s.waitDone(p, stepTimeout)

	s.wantExecution(out, sfntypes.ExecutionStatusFailed, "RolledBack")
	// One task moves the group: the transitions of one promotion.
	s.wantStates(p, "SmokeTest", "SmokePassed", "RequestApproval", "RecordApproval", "BeginShift", "HasSteps",
		"SetWeight", "Bake", "CheckHealth", "Rollback", "RolledBack")
	if got, want := s.memberProds(members), "api-a=1 api-b=1 api-c=1"; got != want {
		t.Errorf("prod after the rollback: %s, want %s (every member on its stable version, no routing)", got, want)
	}

	var recs []audit.Record
	wantShift := []string{}
	for _, m := range members {
		wantShift = append(wantShift, m+" traffic.shifted prod 1→2 @0.5", m+" health.failed prod 1→2 @0.5",
			m+" alias.moved prod 2→1 @0", m+" promotion.rolled_back prod 2→1")
	}
	slices.Sort(wantShift)
	var got []string
	eventually(t, stepTimeout, func() error {
		all, err := s.auditRecords()
		if err != nil {
			return err
		}
		recs, got = nil, nil
		for _, r := range all {
			if r.Execution != p.arn || r.Alias != promotion.AliasProd {
				continue
			}
			recs = append(recs, r)
			got = append(got, r.Function+" "+describe(r))
		}
		slices.Sort(got)
		if !slices.Equal(got, wantShift) {
			return fmt.Errorf("the group's prod records:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(wantShift, "\n  "))
		}
		return nil
	})
	for _, r := range recs {
		if r.Group != "api" {
			t.Errorf("record %s of %s names group %q, want api", describe(r), r.Function, r.Group)
		}
		if r.Event == audit.HealthFailed && !strings.Contains(r.Reason, "member api-c (version 2) is unhealthy") {
			t.Errorf("health.failed of %s: reason %q, want it to name api-c", r.Function, r.Reason)
		}
	}
}

// groupMember creates function name as a target's stack would (tagged for
// the pipeline) with version 1 on prod and stg, then publishes new code as
// version 2 and moves stg to it, as the group's release does; it returns
// version 2's CodeSha256.
func (s *scenario) groupMember(name string) string {
	s.t.Helper()
	zip := func(b helloBuild) []byte {
		bin, err := os.ReadFile(helloBin[b])
		if err != nil {
			s.t.Fatal(err)
		}
		z, err := lambdasvc.ZipBootstrap(bin)
		if err != nil {
			s.t.Fatal(err)
		}
		return z
	}
	if _, err := s.lambda.CreateFunction(s.ctx, &awslambda.CreateFunctionInput{FunctionName: aws.String(name), Runtime: lambdatypes.RuntimeProvidedal2023,
		Handler: aws.String("bootstrap"), Role: aws.String("arn:aws:iam::000000000000:role/" + name), Code: &lambdatypes.FunctionCode{ZipFile: zip(helloV2)},
		Tags: map[string]string{local.PipelineTag: local.PipelineName}}); err != nil {
		s.t.Fatalf("create %s: %v", name, err)
	}
	publish := func() *awslambda.PublishVersionOutput {
		var out *awslambda.PublishVersionOutput
		eventually(s.t, stepTimeout, func() error {
			var err error
			out, err = s.lambda.PublishVersion(s.ctx, &awslambda.PublishVersionInput{FunctionName: aws.String(name)})
			return err
		})
		return out
	}
	alias := func(a, v string, create bool) {
		var err error
		if create {
			_, err = s.lambda.CreateAlias(s.ctx, &awslambda.CreateAliasInput{FunctionName: aws.String(name), Name: aws.String(a), FunctionVersion: aws.String(v)})
		} else {
			_, err = s.lambda.UpdateAlias(s.ctx, &awslambda.UpdateAliasInput{FunctionName: aws.String(name), Name: aws.String(a), FunctionVersion: aws.String(v)})
		}
		if err != nil {
			s.t.Fatalf("alias %s:%s → %s: %v", name, a, v, err)
		}
	}
	if v := aws.ToString(publish().Version); v != "1" {
		s.t.Fatalf("%s's first version is %s, want 1", name, v)
	}
	alias("prod", "1", true)
	alias("stg", "1", true)
	eventually(s.t, stepTimeout, func() error {
		_, err := s.lambda.UpdateFunctionCode(s.ctx, &awslambda.UpdateFunctionCodeInput{FunctionName: aws.String(name), ZipFile: zip(helloV3)})
		return err
	})
	out := publish()
	if v := aws.ToString(out.Version); v != "2" {
		s.t.Fatalf("%s's second version is %s, want 2", name, v)
	}
	alias("stg", "2", false)
	return aws.ToString(out.CodeSha256)
}

// memberProds renders each function's prod, "api-a=1 + 2@0.5 api-b=1 …".
func (s *scenario) memberProds(fns []string) string {
	s.t.Helper()
	var out []string
	for _, f := range fns {
		a, err := s.lambda.GetAlias(s.ctx, &awslambda.GetAliasInput{FunctionName: aws.String(f), Name: aws.String(promotion.AliasProd)})
		if err != nil {
			out = append(out, f+"=?")
			continue
		}
		v := aws.ToString(a.FunctionVersion)
		if a.RoutingConfig != nil {
			for w, share := range a.RoutingConfig.AdditionalVersionWeights {
				v += fmt.Sprintf(" + %s@%g", w, share)
			}
		}
		out = append(out, f+"="+v)
	}
	return strings.Join(out, " ")
}
