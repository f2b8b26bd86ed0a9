package e2e

import (
	"encoding/json"
	"fmt"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/aliasflow/aliasflow/sandbox/core"
	lambdasvc "github.com/aliasflow/aliasflow/sandbox/lambda"
	"github.com/aliasflow/aliasflow/sandbox/local"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/deploy"
	"github.com/aliasflow/aliasflow/shared/eventpatterns"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aliasflow/aliasflow/shared/settings"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

// addMember creates fn in the world beside hello, as a target of the
// pipeline in group "api": hello's v1 code (tagged, so each function's
// differs) published as version 1 on stg and prod, its settings those of
// hello with only its invoke smoke check, and a new build as $LATEST,
// whose CodeSha256 it returns.
func (s *scenario) addMember(fn string) string {
	s.t.Helper()
	return s.addTarget(fn, nil)
}

// addTarget is addMember with more tags on the function (beside the
// pipeline's).
func (s *scenario) addTarget(fn string, tags map[string]string) string {
	s.t.Helper()
	bin, err := os.ReadFile(binDir + "/hello/bootstrap")
	if err != nil {
		s.t.Fatal(err)
	}
	zip := func(tag string) []byte {
		z, err := lambdasvc.ZipBootstrap(slices.Concat(bin, []byte("\n"+fn+" "+tag+"\n")))
		if err != nil {
			s.t.Fatal(err)
		}
		return z
	}
	lam := s.world().Sandbox().Lambda()
	settle := func() {
		s.t.Helper()
		eventually(s.t, stepTimeout, func() error {
			c, err := lam.GetFunctionConfiguration(fn, "")
			if err != nil {
				return err
			}
			if c.State != "Active" || c.LastUpdateStatus != "Successful" {
				return fmt.Errorf("%s is %s/%s", fn, c.State, c.LastUpdateStatus)
			}
			return nil
		})
	}
	all := maps.Clone(tags)
	if all == nil {
		all = map[string]string{}
	}
	all[local.PipelineTag] = local.PipelineName
	timeout := 10
	if _, err := lam.CreateFunction(lambdasvc.CreateFunctionInput{FunctionName: fn, Runtime: "provided.al2023", Handler: "bootstrap",
		Role: "arn:aws:iam::" + core.Account + ":role/" + fn, Code: lambdasvc.FunctionCode{ZipFile: zip("v1")}, Timeout: &timeout,
		Tags: all}); err != nil {
		s.t.Fatalf("create %s: %v", fn, err)
	}
	settle()
	v, err := lam.PublishVersion(fn, lambdasvc.PublishVersionInput{Description: "v1"})
	if err != nil {
		s.t.Fatalf("publish %s: %v", fn, err)
	}
	for _, a := range []string{promotion.AliasStg, promotion.AliasProd} {
		if _, err := lam.CreateAlias(fn, lambdasvc.CreateAliasInput{Name: a, FunctionVersion: v.Version}); err != nil {
			s.t.Fatalf("alias %s:%s: %v", fn, a, err)
		}
	}
	target := s.target
	target.Function, target.CodeBuildProjects = fn, nil
	target.SmokeChecks = slices.DeleteFunc(slices.Clone(target.SmokeChecks), func(c config.SmokeCheck) bool { return c.Invoke == nil })
	doc, err := settings.Encode(target)
	if err == nil {
		_, err = s.world().Sandbox().SSM().PutParameter(settings.ParameterName(settings.DefaultPipeline, fn), doc, true)
	}
	if err != nil {
		s.t.Fatalf("settings of %s: %v", fn, err)
	}
	out, err := lam.UpdateFunctionCode(fn, lambdasvc.UpdateFunctionCodeInput{ZipFile: zip("v2")})
	if err != nil {
		s.t.Fatalf("update %s: %v", fn, err)
	}
	settle()
	return out.CodeSha256
}

// aliasOf is the version fn's alias name serves.
func (s *scenario) aliasOf(fn, name string) string {
	s.t.Helper()
	a, err := s.world().Sandbox().Lambda().GetAlias(fn, name)
	if err != nil {
		s.t.Fatalf("GetAlias %s:%s: %v", fn, name, err)
	}
	return a.FunctionVersion
}

// TestGroupRelease (issue 20, item 2): one Release Requested event naming
// three functions of group "api" starts ONE promotion, named for the
// group; every member is published and its stg moved (one audit record
// per move, each carrying the group), each is smoke-tested against its
// own stg, and one approval request lists every member with its version
// and commit. (The lockstep shift is the shift Lambda's; this scenario
// ends at the approval page.)
func TestGroupRelease(t *testing.T) {
	t.Parallel()
	s := newScenario(t, func(tg *config.Target) { tg.Group = "api" })
	hello := s.deploy(helloV2, "c0ffee2")
	shas := map[string]string{fn: hello.sha, "orders": s.addMember("orders"), "users": s.addMember("users")}
	commits := map[string]string{fn: "c0ffee2", "orders": "0dde755", "users": "05e7555"}

	var members []map[string]string
	var pm []promotion.Member
	for _, f := range []string{"users", fn, "orders"} { // in no order: the release sorts them
		members = append(members, map[string]string{"function": f, "codeSha256": shas[f], "commit": commits[f]})
		pm = append(pm, promotion.Member{Function: f, Version: "2", Release: promotion.Release{CodeSha256: shas[f]}})
	}
	detail, _ := json.Marshal(map[string]any{"functions": members, "requestedBy": requester, "title": "orders, users and hello together"})
	if _, err := s.events.PutEvents(s.ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
		Source: aws.String(eventpatterns.ReleaseSource), DetailType: aws.String(eventpatterns.ReleaseDetailType),
		EventBusName: aws.String(deploy.ReleaseEventBus), Detail: aws.String(string(detail))}}}); err != nil {
		t.Fatalf("put the group's Release Requested: %v", err)
	}
	name := promotion.GroupExecutionName("api", pm)
	p := &promo{version: "2", name: name, arn: fmt.Sprintf("arn:aws:states:us-east-1:000000000000:execution:%s:%s", stateMachine, name)}
	s.waitWaiting(p, promotion.StateRequestApproval)
	s.waitRequested(p)

	// One execution; every member's stg on its new version, prod where it was.
	var groupExecs []string
	for _, e := range s.executions() {
		groupExecs = append(groupExecs, aws.ToString(e.Name))
	}
	if len(groupExecs) != 1 || groupExecs[0] != name {
		t.Errorf("executions = %v, want only %s", groupExecs, name)
	}
	for _, f := range []string{fn, "orders", "users"} {
		if stg, prod := s.aliasOf(f, "stg"), s.aliasOf(f, "prod"); stg != "2" || prod != "1" {
			t.Errorf("%s: stg %s, prod %s; want stg 2, prod 1", f, stg, prod)
		}
	}
	// One stg move and one smoke test per member, each record carrying
	// the group and the execution.
	var recs []audit.Record
	eventually(t, stepTimeout, func() error {
		var err error
		if recs, err = s.auditRecords(); err != nil {
			return err
		}
		if n := countEvents(recs, audit.SmokePassed); n < 3 {
			return fmt.Errorf("%d smoke.passed records, want 3", n)
		}
		return nil
	})
	moved := map[string]int{}
	smoked := map[string]int{}
	for _, r := range recs {
		switch {
		case r.Event == audit.AliasMoved && r.Alias == promotion.AliasStg:
			moved[r.Function]++
		case r.Event == audit.SmokePassed:
			smoked[r.Function]++
		default:
			continue
		}
		if r.Group != "api" || r.Execution != p.arn {
			t.Errorf("%s of %s: group %q, execution %s; want api and %s", r.Event, r.Function, r.Group, r.Execution, p.arn)
		}
	}
	for _, f := range []string{fn, "orders", "users"} {
		if moved[f] != 1 || smoked[f] != 1 {
			t.Errorf("%s: %d stg moves and %d smoke tests recorded, want 1 and 1", f, moved[f], smoked[f])
		}
	}

	// One approval request, listing every member with its version and commit.
	var mail email
	eventually(t, stepTimeout, func() error {
		for _, m := range s.world().Emails() {
			if m.To == approver && linkExecution(linkPattern.FindString(m.Body)) == p.arn {
				mail = m
				return nil
			}
		}
		return fmt.Errorf("no approval e-mail to %s for %s", approver, name)
	})
	if want := "Approve group api (3 functions) for prod?"; !strings.Contains(mail.Subject, want) {
		t.Errorf("subject = %q, want %q", mail.Subject, want)
	}
	for _, f := range []string{fn, "orders", "users"} {
		if want := fmt.Sprintf("  %s version 2, commit %s", f, commits[f]); !strings.Contains(mail.Body, want) {
			t.Errorf("the e-mail lacks %q:\n%s", want, mail.Body)
		}
	}
	status, page := s.openLink(linkPattern.FindString(mail.Body))
	if status != http.StatusOK {
		t.Fatalf("GET the approval page: %d\n%s", status, page)
	}
	for _, f := range []string{fn, "orders", "users"} {
		if want := fmt.Sprintf(`<th scope="row">%s</th><td class="num">2</td>`, f); !strings.Contains(page, want) {
			t.Errorf("the approval page lacks %q", want)
		}
	}
	if got := strings.Count(page, `<tr class="member">`); got != 3 {
		t.Errorf("the approval page lists %d members, want 3", got)
	}
	// status of a member lists the group's promotion as one.
	code, out, errOut := s.cli("status", "orders")
	if code != 0 || !strings.Contains(out, name+" is one promotion of group api") {
		t.Errorf("aliasflow status orders: exit %d, want the group's promotion listed:\n%s%s", code, out, errOut)
	}

	// Approved once, the group reaches prod together: every member's prod
	// on version 2, exactly one prod move recorded per member, each
	// carrying the group.
	if status, body := s.decideByLink(linkPattern.FindString(mail.Body), "approve", "all three"); status != http.StatusOK {
		t.Fatalf("approve the group through its link: status %d, want 200:\n%s", status, body)
	}
	s.wantExecution(s.waitDone(p, 2*stepTimeout), sfntypes.ExecutionStatusSucceeded, "")
	for _, f := range []string{fn, "orders", "users"} {
		if prod := s.aliasOf(f, "prod"); prod != "2" {
			t.Errorf("%s: prod %s after the group's promotion, want 2", f, prod)
		}
	}
	prodMoves := func(recs []audit.Record) map[string]int {
		n := map[string]int{}
		for _, r := range recs {
			if r.Event == audit.AliasMoved && r.Alias == promotion.AliasProd {
				n[r.Function]++
				if r.Group != "api" {
					t.Errorf("prod move of %s: group %q, want api", r.Function, r.Group)
				}
			}
		}
		return n
	}
	recs = s.waitAudit(func(recs []audit.Record) bool { return len(prodMoves(recs)) == 3 })
	for f, n := range prodMoves(recs) {
		if n != 1 {
			t.Errorf("%s: %d prod moves recorded, want 1", f, n)
		}
	}
}

func countEvents(recs []audit.Record, ev audit.Event) int {
	n := 0
	for _, r := range recs {
		if r.Event == ev {
			n++
		}
	}
	return n
}
