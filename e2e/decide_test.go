package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/aliasflow/aliasflow/cli"
	"github.com/aliasflow/aliasflow/shared/pending"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

var linkPattern = regexp.MustCompile(`https?://\S+\?t=[A-Za-z0-9._~%-]+`)

// approvalEmail waits for the approval e-mail of p to to and returns it.
func (s *scenario) approvalEmail(p *promo, to string) email {
	s.t.Helper()
	var found email
	eventually(s.t, stepTimeout, func() error {
		for _, m := range s.world().Emails() {
			if m.To == to && (strings.Contains(m.Subject, "version "+p.version) || isGroup(p)) && linkExecution(linkPattern.FindString(m.Body)) == p.arn {
				found = m
				return nil
			}
		}
		return fmt.Errorf("no approval e-mail to %s for version %s among %d e-mails", to, p.version, len(s.world().Emails()))
	})
	return found
}

// isGroup says p is a group's promotion, whose approval e-mail is about
// the group ("Approve group api (3 functions) for prod?"), each member's
// version in its body.
func isGroup(p *promo) bool {
	ref, ok := promotion.ParseExecutionName(p.name)
	return ok && ref.Group != ""
}

// linkExecution is the execution an approval link is for, read from its
// token's payload (base64url JSON before the signature): a retried release
// has a second promotion of the same version, and e-mails of its own.
func linkExecution(link string) string {
	u, err := url.Parse(link)
	if err != nil {
		return ""
	}
	payload, _, _ := strings.Cut(u.Query().Get("t"), ".")
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return ""
	}
	var tok struct {
		Execution string `json:"execution"`
	}
	_ = json.Unmarshal(raw, &tok)
	return tok.Execution
}

// approvalLink is the link in the approval e-mail of p to to.
func (s *scenario) approvalLink(p *promo, to string) string {
	s.t.Helper()
	m := s.approvalEmail(p, to)
	link := linkPattern.FindString(m.Body)
	if link == "" {
		s.t.Fatalf("the approval e-mail to %s has no link:\n%s", to, m.Body)
	}
	return link
}

// openLink GETs the approval page of link, as a browser does.
func (s *scenario) openLink(link string) (int, string) {
	s.t.Helper()
	resp, err := s.http.Get(link)
	if err != nil {
		s.t.Fatalf("GET the approval page: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// decideByLink posts the approval page's form for link with decision
// ("approve" or "reject"), as a browser does, and returns the answer's
// status and body.
func (s *scenario) decideByLink(link, decision, comment string) (int, string) {
	s.t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		s.t.Fatal(err)
	}
	form := url.Values{"t": {u.Query().Get("t")}, "decision": {decision}, "comment": {comment}}
	u.RawQuery = ""
	resp, err := s.http.Post(u.String(), "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		s.t.Fatalf("POST the decision: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// decide opens the e-mailed link of to for p, checks the page offers the
// decision, and decides.
func (s *scenario) decide(p *promo, to, decision, comment string) {
	s.t.Helper()
	link := s.approvalLink(p, to)
	status, page := s.openLink(link)
	if status != http.StatusOK || !strings.Contains(page, "version "+p.version) && !strings.Contains(page, ">"+p.version+"<") {
		s.t.Fatalf("GET the approval page of %s: status %d, want 200 and a page about version %s:\n%s", p.name, status, p.version, page)
	}
	if status, body := s.decideByLink(link, decision, comment); status != http.StatusOK {
		s.t.Fatalf("%s through the link: status %d, want 200:\n%s", decision, status, body)
	}
}

// approveByLink approves p through the e-mailed link of to.
func (s *scenario) approveByLink(p *promo, to string) {
	s.t.Helper()
	s.decide(p, to, "approve", "looks good")
}

// get calls a stage once and returns the version that answered ("error"
// when the call failed).
func (s *scenario) get(path string) string {
	s.t.Helper()
	resp, err := s.http.Get(s.ep + path)
	if err != nil {
		return "error"
	}
	defer resp.Body.Close()
	var a struct{ Version string }
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&a) != nil {
		return "error"
	}
	return a.Version
}

// cli runs the aliasflow CLI against the world, as an operator's shell does.
func (s *scenario) cli(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = cli.Main(s.ctx, append([]string{"--endpoint", s.ep, "--region", "us-east-1"}, args...), cli.Env{Stdout: &out, Stderr: &errOut})
	return code, out.String(), errOut.String()
}

// waitWaiting waits until p's execution has an open task in state (a
// waitForTaskToken state: RequestApproval or Bake).
func (s *scenario) waitWaiting(p *promo, state string) {
	s.t.Helper()
	eventually(s.t, stepTimeout, func() error {
		_, err := pending.Find(s.ctx, s.sfn, p.arn, state)
		return err
	})
}

// waitRequested waits until the approval request of p has returned: the
// RequestApproval task's latest attempt is submitted (its Lambda call
// ended) and the task waits for its token. Before that, the request may
// still be e-mailing the approvers.
func (s *scenario) waitRequested(p *promo) {
	s.t.Helper()
	eventually(s.t, stepTimeout, func() error {
		attempts, err := promotion.TaskAttempts(s.ctx, s.sfn, p.arn, promotion.StateRequestApproval)
		if err != nil {
			return err
		}
		if len(attempts) == 0 || !attempts[len(attempts)-1].Submitted {
			return fmt.Errorf("promotion %s: the approval request has not returned yet", p.name)
		}
		return nil
	})
}

// waitDone waits until p's execution ends and returns it.
func (s *scenario) waitDone(p *promo, timeout time.Duration) *sfn.DescribeExecutionOutput {
	s.t.Helper()
	var out *sfn.DescribeExecutionOutput
	eventually(s.t, timeout, func() error {
		var err error
		out, err = s.sfn.DescribeExecution(s.ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(p.arn)})
		if err != nil {
			return err
		}
		if out.Status == sfntypes.ExecutionStatusRunning {
			return fmt.Errorf("promotion %s still running (in %s)", p.name, s.currentState(p))
		}
		return nil
	})
	return out
}

// currentState is the last state p's execution entered.
func (s *scenario) currentState(p *promo) string {
	names, err := s.enteredStates(p.arn)
	if err != nil || len(names) == 0 {
		return "?"
	}
	return names[len(names)-1]
}
