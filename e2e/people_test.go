package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"github.com/aliasflow/aliasflow/shared/deploy"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/cli"
	"github.com/aliasflow/aliasflow/sandbox/core"
	"github.com/aliasflow/aliasflow/shared/approval"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/pending"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/smithy-go"

	"github.com/aliasflow/aliasflow/shared/awsenv"
)

// The access keys the sandbox evaluates as aliasflow's people (iam.People):
// an IAM user with aliasflow-operators attached, one with
// aliasflow-approvers.
const (
	operatorKey = "aliasflow-operator"
	approverKey = "aliasflow-approver"
)

func personARN(key string) string { return "arn:aws:iam::" + core.Account + ":user/" + key }

// TestPeopleAsTheSandboxEvaluatesThem (issue 18): an operator and an
// approver, each calling with their own access key, are evaluated by the
// sandbox against their managed policies in the synthesized templates, as
// AWS would: every bypass of the gate is AccessDenied, what their
// commands need is allowed, and the approver's decision counts through the
// IAM-authorized approval API, recorded with the identity AWS verified.
func TestPeopleAsTheSandboxEvaluatesThem(t *testing.T) {
	s := startScenarioWith(t, func(tg *config.Target) {
		tg.Approval.Principals = map[string][]string{oncall: {personARN(approverKey)}}
	}, "", cdkOut, true)
	p := s.merge(helloV2, "c0ffee1")
	s.waitWaiting(p, promotion.StateRequestApproval)
	waiting, err := pending.Find(s.ctx, s.sfn, p.arn, promotion.StateRequestApproval)
	if err != nil {
		t.Fatal(err)
	}
	token := waiting.TaskToken.Reveal()
	cfgOf := func(key string) aws.Config {
		return aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(s.ep), HTTPClient: awsenv.LoopbackOnlyClient(),
			Credentials: credentials.NewStaticCredentialsProvider(key, "test", ""), RetryMaxAttempts: 1}
	}
	forgedFinalize, _ := json.Marshal(promotion.TaskRequest{Action: promotion.ActionFinalize, Execution: p.arn,
		Promotion: promotion.State{Input: promotion.Input{Function: fn, Version: p.version}, Shift: &promotion.Shift{StableVersion: "1", Done: true}}})
	calls := map[string]func(c aws.Config) error{
		"invoke aliasflow-shift with a forged finalize": func(c aws.Config) error {
			_, err := lambda.NewFromConfig(c).Invoke(s.ctx, &lambda.InvokeInput{FunctionName: aws.String("aliasflow-shift"), Payload: forgedFinalize})
			return err
		},
		"answer the approval task (SendTaskSuccess)": func(c aws.Config) error {
			_, err := sfn.NewFromConfig(c).SendTaskSuccess(s.ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(token),
				Output: aws.String(`{"approved":false,"approver":"cfo@example.com","via":"cli"}`)})
			return err
		},
		"stop the promotion": func(c aws.Config) error {
			_, err := sfn.NewFromConfig(c).StopExecution(s.ctx, &sfn.StopExecutionInput{ExecutionArn: aws.String(p.arn)})
			return err
		},
		"move prod (UpdateAlias)": func(c aws.Config) error {
			_, err := lambda.NewFromConfig(c).UpdateAlias(s.ctx, &lambda.UpdateAliasInput{FunctionName: aws.String(fn), Name: aws.String("prod"), FunctionVersion: aws.String(p.version)})
			return err
		},
		"update hello's code": func(c aws.Config) error {
			_, err := lambda.NewFromConfig(c).UpdateFunctionCode(s.ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String(fn), ZipFile: []byte("PK")})
			return err
		},
		"list hello's aliases (status)": func(c aws.Config) error {
			_, err := lambda.NewFromConfig(c).ListAliases(s.ctx, &lambda.ListAliasesInput{FunctionName: aws.String(fn)})
			return err
		},
		"read the promotion's history": func(c aws.Config) error {
			_, err := sfn.NewFromConfig(c).GetExecutionHistory(s.ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(p.arn), MaxResults: 1})
			return err
		},
		"read the audit trail (history)": func(c aws.Config) error {
			_, err := cloudwatchlogs.NewFromConfig(c).FilterLogEvents(s.ctx, &cloudwatchlogs.FilterLogEventsInput{
				LogGroupName: aws.String(pipelineLogs), FilterPattern: aws.String("{ $.audit IS TRUE }"), Limit: aws.Int32(1)})
			return err
		},
		"request a release (PutEvents)": func(c aws.Config) error {
			out, err := eventbridge.NewFromConfig(c).PutEvents(s.ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
				{Source: aws.String("aliasflow"), DetailType: aws.String("Release Requested"), Detail: aws.String(`{"function":"nope","codeSha256":"x"}`),
					EventBusName: aws.String(deploy.ReleaseEventBus)}}})
			if err == nil && out.FailedEntryCount > 0 {
				return errors.New("entry failed")
			}
			return err
		},
	}
	cases := []struct {
		who, key, call string
		denied         bool
	}{
		{"operator", operatorKey, "invoke aliasflow-shift with a forged finalize", true},
		{"operator", operatorKey, "answer the approval task (SendTaskSuccess)", true},
		{"operator", operatorKey, "stop the promotion", true},
		{"operator", operatorKey, "move prod (UpdateAlias)", true},
		{"operator", operatorKey, "update hello's code", true},
		{"operator", operatorKey, "list hello's aliases (status)", false},
		{"operator", operatorKey, "read the promotion's history", false},
		{"operator", operatorKey, "read the audit trail (history)", false},
		// Its policy allows PutEvents on the release bus, but the bus's
		// resource policy denies every principal not tagged
		// aliasflow:releaser=true (or listed): this one is not.
		{"operator", operatorKey, "request a release (PutEvents)", true},
		{"approver", approverKey, "read the audit trail (history)", true},
		{"approver", approverKey, "invoke aliasflow-shift with a forged finalize", true},
		{"approver", approverKey, "answer the approval task (SendTaskSuccess)", true},
		{"approver", approverKey, "stop the promotion", true},
		{"approver", approverKey, "move prod (UpdateAlias)", true},
		{"approver", approverKey, "update hello's code", true},
		{"approver", approverKey, "list hello's aliases (status)", true},
		{"approver", approverKey, "request a release (PutEvents)", true},
		{"approver", approverKey, "read the promotion's history", false},
	}
	for _, c := range cases {
		verb := map[bool]string{true: " may not ", false: " may "}[c.denied]
		t.Run(c.who+verb+c.call, func(t *testing.T) {
			err := calls[c.call](cfgOf(c.key))
			var api smithy.APIError
			denied := errors.As(err, &api) && strings.Contains(api.ErrorCode(), "AccessDenied")
			if denied != c.denied {
				t.Errorf("%s: %s: %v; want denied %v", c.who, c.call, err, c.denied)
			}
		})
	}
	// The approval API's IAM-authorized methods: execute-api:Invoke as
	// each policy grants it.
	api := strings.TrimSuffix(waiting.ApprovalURL, "/")
	for _, c := range []struct {
		key, resource string
		want          int
	}{
		{approverKey, approval.OverridePath, http.StatusForbidden},
		{"", approval.DecidePath, http.StatusForbidden},           // unsigned
		{operatorKey, approval.OverridePath, http.StatusConflict}, // allowed; nothing bakes
	} {
		body, _ := json.Marshal(approval.CallerRequest{Execution: p.arn, Action: approval.ActionRollback})
		if c.resource == approval.DecidePath {
			body, _ = json.Marshal(approval.CallerRequest{Execution: p.arn, Action: approval.ActionApprove})
		}
		if got := s.signedPost(c.key, api+c.resource, body); got != c.want {
			t.Errorf("POST %s as %q = %d, want %d", c.resource, c.key, got, c.want)
		}
	}
	if got := s.alias("prod").version; got != "1" {
		t.Fatalf("prod = %s after the refused calls, want 1", got)
	}
	// An operator is no approver: IAM lets them call /decide, the approval
	// Lambda refuses them (not mapped to an approver of hello).
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_ACCESS_KEY_ID", operatorKey)
	if code, out, errOut := s.cli("approve", p.name); code != cli.ExitRefused || !strings.Contains(errOut, "is not mapped to any approver") {
		t.Fatalf("approve as the operator: exit %d\n%s%s", code, out, errOut)
	}
	// The approver decides through the CLI, as themself.
	t.Setenv("AWS_ACCESS_KEY_ID", approverKey)
	if code, out, errOut := s.cli("approve", p.name, "--comment", "ship it"); code != cli.ExitOK {
		t.Fatalf("approve as the approver: exit %d\n%s%s", code, out, errOut)
	}
	s.waitDone(p, 2*stepTimeout)
	if got := s.alias("prod").version; got != p.version {
		t.Errorf("prod = %s, want %s", got, p.version)
	}
	var granted []audit.Record
	for _, r := range s.waitAudit(func(recs []audit.Record) bool {
		for _, r := range recs {
			if r.Event == audit.PromotionCompleted && r.Execution == p.arn {
				return true
			}
		}
		return false
	}) {
		if r.Event == audit.ApprovalGranted && r.Execution == p.arn {
			granted = append(granted, r)
		}
	}
	if len(granted) != 1 || granted[0].Actor != personARN(approverKey) {
		t.Errorf("approval.granted records %+v; want one naming %s", granted, personARN(approverKey))
	}
}

// signedPost POSTs body to url, SigV4-signed for execute-api with key
// ("" sends it unsigned), and returns the status.
func (s *scenario) signedPost(key, url string, body []byte) int {
	s.t.Helper()
	req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		sum := sha256.Sum256(body)
		if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: key, SecretAccessKey: "test"}, req,
			hex.EncodeToString(sum[:]), "execute-api", "us-east-1", time.Now()); err != nil {
			s.t.Fatal(err)
		}
	}
	resp, err := s.http.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
