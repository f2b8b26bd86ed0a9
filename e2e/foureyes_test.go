package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/aliasflow/aliasflow/cli"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aliasflow/aliasflow/shared/settings"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/aliasflow/aliasflow/shared/awsenv"
)

// TestFourEyes (issue 18, approval.required 2): hello needs two of its
// approvers. The first approval (a link) is counted and moves nothing; the
// same approver approving again counts once; the page the second approver
// opens says "1 of 2 approvals" and the settings version; the second
// approval (the CLI, signed as the approver mapped to oncall; status says
// "1 of 2 approvals" before it) completes
// the count and prod moves. Each decision leaves exactly one audit record
// naming the verified identity, and the counted approvals are deleted
// with the outcome. On the old code the first approval moved prod.
func TestFourEyes(t *testing.T) {
	s := startScenarioWith(t, func(tg *config.Target) {
		tg.Approval.Required = 2
		tg.Approval.Principals = map[string][]string{oncall: {personARN(approverKey)}}
	}, "", cdkOut, false)
	p := s.merge(helloV2, "f0e1e5a")
	s.waitWaiting(p, promotion.StateRequestApproval)
	if m := s.approvalEmail(p, approver); !strings.Contains(m.Body, "2 of the 2 approvers must approve before prod moves (0 of 2 approvals so far)") {
		t.Errorf("the approval e-mail does not say two must approve:\n%s", m.Body)
	}

	first := s.approvalLink(p, approver)
	for i, want := range []string{"is counted: 1 of 2 approvals.", "You had already approved"} {
		status, page := s.decideByLink(first, "approve", fmt.Sprintf("first look %d", i))
		if status != http.StatusOK || !strings.Contains(page, want) {
			t.Fatalf("approval %d by %s: status %d, want 200 and %q:\n%s", i+1, approver, status, want, page)
		}
	}
	if got := s.currentState(p); got != promotion.StateRequestApproval {
		t.Fatalf("after one approval the promotion is in %s, want still %s", got, promotion.StateRequestApproval)
	}
	if got := s.alias("prod").version; got != "1" {
		t.Fatalf("prod = %s after one of two approvals, want 1", got)
	}

	param, err := s.parameters().GetParameter(s.ctx, &ssm.GetParameterInput{Name: aws.String(settings.ParameterName(settings.DefaultPipeline, fn))})
	if err != nil {
		t.Fatal(err)
	}
	status, page := s.openLink(s.approvalLink(p, oncall))
	for _, want := range []string{"1 of 2 approvals so far: " + approver, fmt.Sprintf(`<span id="settings-version">version %d</span>`, param.Parameter.Version)} {
		if status != http.StatusOK || !strings.Contains(page, want) {
			t.Errorf("the second approver's page (status %d) lacks %q:\n%s", status, want, page)
		}
	}

	// status says where the count stands (read from the trail's
	// approval.counted records).
	eventually(t, stepTimeout, func() error {
		if code, out, errOut := s.cli("status", fn); code != cli.ExitOK || !strings.Contains(out, "1 of 2 approvals") {
			return fmt.Errorf("status: exit %d, want a line with \"1 of 2 approvals\":\n%s%s", code, out, errOut)
		}
		return nil
	})

	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_ACCESS_KEY_ID", approverKey)
	code, out, errOut := s.cli("approve", p.name, "--comment", "second pair of eyes")
	if code != cli.ExitOK || !strings.Contains(out, "2 of 2 approvals: the count is complete") {
		t.Fatalf("approve as %s: exit %d\n%s%s", approverKey, code, out, errOut)
	}
	s.waitDone(p, 2*stepTimeout)
	if got := s.alias("prod").version; got != p.version {
		t.Errorf("prod = %s after two approvals, want %s", got, p.version)
	}

	var decisions []string
	for _, r := range s.waitAudit(func(recs []audit.Record) bool {
		for _, r := range recs {
			if r.Event == audit.PromotionCompleted && r.Execution == p.arn {
				return true
			}
		}
		return false
	}) {
		if r.Execution == p.arn && (r.Event == audit.ApprovalCounted || r.Event == audit.ApprovalGranted) {
			decisions = append(decisions, fmt.Sprintf("%s by %s: %s (settings version %d)", r.Event, r.Actor, r.Reason, r.SettingsVersion))
		}
	}
	want := []string{
		fmt.Sprintf("approval.counted by %s: 1 of 2 approvals (%s); waiting for 1 more: first look 0 (settings version %d)", approver, approver, param.Parameter.Version),
		fmt.Sprintf("approval.granted by %s: 2 of 2 approvals (%s, %s): second pair of eyes (settings version %d)", personARN(approverKey), approver, oncall, param.Parameter.Version),
	}
	if strings.Join(decisions, "\n") != strings.Join(want, "\n") {
		t.Errorf("decision records:\n%s\nwant\n%s", strings.Join(decisions, "\n"), strings.Join(want, "\n"))
	}
	approvals, err := settings.ApprovalsPath(settings.Path(settings.DefaultPipeline))
	if err != nil {
		t.Fatal(err)
	}
	left, err := s.parameters().GetParametersByPath(s.ctx, &ssm.GetParametersByPathInput{Path: aws.String(approvals + p.name)})
	if err != nil || len(left.Parameters) != 0 {
		t.Errorf("counted approvals left after the outcome: %+v (%v); want none", left, err)
	}
}

// parameters is a Parameter Store client as the sandbox's administrator.
func (s *scenario) parameters() *ssm.Client {
	return ssm.NewFromConfig(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(s.ep), HTTPClient: awsenv.LoopbackOnlyClient(),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""), RetryMaxAttempts: 1})
}
