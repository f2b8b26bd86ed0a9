package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/aliasflow/aliasflow/cli"
	lambdasvc "github.com/aliasflow/aliasflow/sandbox/lambda"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/promotion"
)

// TestPruneDeletesOnlyTheUnreferencedOldVersions (issue 21): hello has 30
// published versions; aliases point at three of them (blue at 5, prod at
// 12 routing to 13, stg — moved by the release — at 31), and a promotion
// of 31 waits for approval, which would restore stg to 20 if it failed.
// The target keeps its newest 2 (30, 31). The operator, with their own
// access key evaluated against aliasflow-operators, runs `aliasflow prune
// hello --yes`: exactly the 25 other versions go, each audited once as
// version.deleted naming the operator as CloudTrail recorded them, and the
// Region's code storage goes down.
func TestPruneDeletesOnlyTheUnreferencedOldVersions(t *testing.T) {
	s := startScenarioWith(t, func(tg *config.Target) { tg.Prune = &config.Prune{KeepLast: 2} }, "", cdkOut, false)
	ctx := s.ctx
	for v := len(s.published()) + 1; v <= 30; v++ {
		s.publishConfigVersion(fmt.Sprintf("version %d", v))
	}
	if got := len(s.published()); got != 30 {
		t.Fatalf("hello has %d published versions, want 30", got)
	}
	if _, err := s.lambda.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String(fn), Name: aws.String("prod"), FunctionVersion: aws.String("12"),
		RoutingConfig: &ltypes.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{"13": 0.05}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.lambda.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String(fn), Name: aws.String("stg"), FunctionVersion: aws.String("20")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.lambda.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String(fn), Name: aws.String("blue"), FunctionVersion: aws.String("5")}); err != nil {
		t.Fatal(err)
	}
	p := s.merge(helloV2, "c0ffee1")
	s.waitWaiting(p, promotion.StateRequestApproval)
	if p.version != "31" {
		t.Fatalf("the release published version %s, want 31", p.version)
	}

	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_ACCESS_KEY_ID", operatorKey)
	code, out, errOut := s.cli("--json", "prune", fn, "--yes")
	if code != cli.ExitOK {
		t.Fatalf("prune: exit %d\n%s%s", code, out, errOut)
	}
	var res cli.PruneResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("prune --json: %v\n%s", err, out)
	}
	kept := []string{"5", "12", "13", "20", "30", "31"}
	var want []string
	for v := 1; v <= 31; v++ {
		if !slices.Contains(kept, strconv.Itoa(v)) {
			want = append(want, strconv.Itoa(v))
		}
	}
	var deleted []string
	for _, o := range res.Outcomes {
		if o.Deleted {
			deleted = append(deleted, o.Version.Number)
		}
	}
	if !slices.Equal(deleted, want) {
		t.Errorf("deleted %v, want exactly %v", deleted, want)
	}
	if got := s.published(); !slices.Equal(got, kept) {
		t.Errorf("versions left %v, want %v", got, kept)
	}
	if res.After == nil || res.After.Used >= res.Before.Used || res.Before.Limit != 75<<30 {
		t.Errorf("code storage before %+v, after %+v: want less used after, of a 75 GiB quota", res.Before, res.After)
	}
	if s.alias("prod").version != "12" || s.alias("stg").version != p.version {
		t.Errorf("prod on %s, stg on %s: prune moved an alias", s.alias("prod").version, s.alias("stg").version)
	}

	// status, as the same operator, lists the targets from their settings
	// by the same path.
	if code, out, errOut := s.cli("status"); code != cli.ExitOK {
		t.Errorf("status as the operator: exit %d\n%s%s", code, out, errOut)
	}
	operator := personARN(operatorKey)
	recs := s.waitAudit(func(recs []audit.Record) bool {
		n := 0
		for _, r := range recs {
			if r.Event == audit.VersionDeleted {
				n++
			}
		}
		return n >= len(want)
	})
	count := map[string]int{}
	for _, r := range recs {
		if r.Event != audit.VersionDeleted {
			continue
		}
		count[r.FromVersion]++
		if r.Function != fn || r.Actor != operator {
			t.Errorf("%s: function %s by %q, want %s by %s", describe(r), r.Function, r.Actor, fn, operator)
		}
	}
	for _, v := range want {
		if count[v] != 1 {
			t.Errorf("version %s deleted: %d version.deleted records, want exactly 1", v, count[v])
		}
	}
	if len(count) != len(want) {
		t.Errorf("version.deleted records name %d versions, want %d: %v", len(count), len(want), count)
	}
}

// published lists hello's published versions, oldest first.
func (s *scenario) published() []string {
	s.t.Helper()
	return slices.DeleteFunc(s.versions(), func(v string) bool { return v == "$LATEST" })
}

// publishConfigVersion changes hello's $LATEST configuration and publishes
// it as a new version once the update has settled.
func (s *scenario) publishConfigVersion(description string) {
	s.t.Helper()
	// The sandbox's Go API: the project calls no UpdateFunctionConfiguration.
	eventually(s.t, stepTimeout, func() error {
		_, err := s.world().Sandbox().Lambda().UpdateFunctionConfiguration(fn, lambdasvc.UpdateFunctionConfigurationInput{Description: aws.String(description)})
		return err
	})
	eventually(s.t, stepTimeout, func() error {
		_, err := s.lambda.PublishVersion(s.ctx, &lambda.PublishVersionInput{FunctionName: aws.String(fn)})
		var busy *ltypes.ResourceConflictException
		if errors.As(err, &busy) {
			return err
		}
		if err != nil && !strings.Contains(err.Error(), "in progress") {
			s.t.Fatal(err)
		}
		return err
	})
}

// TestRedeliveredDeletionIsOneRecord (issue 21): EventBridge delivers
// CloudTrail's record of a version's deletion twice more (at least once),
// so the release Lambda writes the record three times; the trail as
// aliasflow reads it (`aliasflow history`) holds one version.deleted —
// the deliveries carry one CloudTrail eventID.
func TestRedeliveredDeletionIsOneRecord(t *testing.T) {
	t.Parallel()
	s := newScenario(t, nil)
	s.publishConfigVersion("version 2")
	s.publishConfigVersion("version 3")
	if _, err := s.lambda.DeleteFunction(s.ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String(fn), Qualifier: aws.String("2")}); err != nil {
		t.Fatalf("delete version 2: %v", err)
	}
	lines := func(recs []audit.Record) int {
		n := 0
		for _, r := range recs {
			if r.Event == audit.VersionDeleted && r.FromVersion == "2" {
				n++
			}
		}
		return n
	}
	s.waitAudit(func(recs []audit.Record) bool { return lines(recs) == 1 })
	var trail []string
	for _, e := range s.world().Sandbox().Events().Events() {
		if e.Source == "aws.lambda" && strings.Contains(string(e.Detail), `"DeleteFunction`) {
			trail = append(trail, e.ID)
		}
	}
	if len(trail) != 1 {
		t.Fatalf("CloudTrail events of the DeleteFunction on the bus: %d, want 1", len(trail))
	}
	if err := s.world().Sandbox().Events().Redeliver(trail[0], 2); err != nil {
		t.Fatal(err)
	}
	if err := s.world().Sandbox().Events().Drain(s.ctx); err != nil {
		t.Fatalf("drain EventBridge deliveries: %v", err)
	}
	recs := s.waitAudit(func(recs []audit.Record) bool { return lines(recs) == 3 })
	ids := map[string]bool{}
	for _, r := range recs {
		if r.Event == audit.VersionDeleted {
			ids[r.EventID] = true
		}
	}
	if len(ids) != 1 || ids[""] {
		t.Errorf("the three deliveries' records carry event ids %v, want one CloudTrail eventID", ids)
	}
	code, out, errOut := s.cli("--json", "history", fn)
	if code != cli.ExitOK {
		t.Fatalf("history: exit %d\n%s%s", code, out, errOut)
	}
	if n := strings.Count(out, `"version.deleted"`); n != 1 {
		t.Errorf("history shows %d version.deleted records, want 1 (the deliveries of one CloudTrail event):\n%s", n, out)
	}
}
