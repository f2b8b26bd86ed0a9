package main

import (
	"fmt"
	"net/mail"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"

	"github.com/aliasflow/aliasflow/infra/aliasflow"
)

// Context keys the app reads (cdk.json holds defaults that synth offline;
// override with `cdk deploy -c key=value`).
const (
	ctxApproverEmails    = "approverEmails"
	ctxAssetDir          = "assetDir"
	ctxLogRetentionDays  = "logRetentionDays"
	ctxSourceRepository  = "sourceRepository"
	ctxSourceBranch      = "sourceBranch"
	ctxExistingLogRole   = "useExistingApiGatewayLogRole"
	ctxSample            = "sample"
	ctxTargetsFile       = "targetsFile"
	ctxGitHubRepository  = "githubRepository"
	ctxGitHubBranch      = "githubBranch"
	ctxGitHubProvider    = "githubOidcProviderArn"
	ctxApprovalRateLimit = "approvalRateLimit"
)

// options are the app's settings, read from the CDK context.
type options struct {
	// AssetDir holds <name>/bootstrap of every Lambda (`make build`).
	AssetDir string
	// ApproverEmails approve the sample's releases and are subscribed to
	// the approvals topic.
	ApproverEmails []string
	// LogRetention applies to every log group of both stacks.
	LogRetention awslogs.RetentionDays
	// SourceRepository ("owner/name" on GitHub) and SourceBranch are what
	// the sample's CodeBuild project builds on every push.
	SourceRepository string
	SourceBranch     string
	// UseExistingAPIGatewayLogRole: the account already has API Gateway's
	// CloudWatch Logs role, so the pipeline stack does not create one.
	UseExistingAPIGatewayLogRole bool
	// Sample adds the sample app stack (hello); false deploys the pipeline
	// alone, with the targets of TargetsFile.
	Sample bool
	// TargetsFile is a shared/config document ({"targets": [...]}) of
	// functions deployed by other tools that the pipeline stack registers.
	TargetsFile string
	// GitHubRepository ("owner/name"), GitHubBranch and GitHubProviderArn
	// configure the role a GitHub Actions workflow assumes to release;
	// no repository, no role.
	GitHubRepository  string
	GitHubBranch      string
	GitHubProviderArn string
	// ApprovalRateLimit is PipelineProps.ApprovalRateLimit: requests per
	// client IP per 5 minutes on the approval API (a WAF web ACL); 0 none.
	ApprovalRateLimit int
}

// retentions are the values CloudWatch Logs accepts, in days.
var retentions = map[int]awslogs.RetentionDays{
	1: awslogs.RetentionDays_ONE_DAY, 3: awslogs.RetentionDays_THREE_DAYS, 5: awslogs.RetentionDays_FIVE_DAYS,
	7: awslogs.RetentionDays_ONE_WEEK, 14: awslogs.RetentionDays_TWO_WEEKS, 30: awslogs.RetentionDays_ONE_MONTH,
	60: awslogs.RetentionDays_TWO_MONTHS, 90: awslogs.RetentionDays_THREE_MONTHS, 120: awslogs.RetentionDays_FOUR_MONTHS,
	150: awslogs.RetentionDays_FIVE_MONTHS, 180: awslogs.RetentionDays_SIX_MONTHS, 365: awslogs.RetentionDays_ONE_YEAR,
	400: awslogs.RetentionDays_THIRTEEN_MONTHS, 545: awslogs.RetentionDays_EIGHTEEN_MONTHS, 731: awslogs.RetentionDays_TWO_YEARS,
	1096: awslogs.RetentionDays_THREE_YEARS, 1827: awslogs.RetentionDays_FIVE_YEARS, 2192: awslogs.RetentionDays_SIX_YEARS,
	2557: awslogs.RetentionDays_SEVEN_YEARS, 2922: awslogs.RetentionDays_EIGHT_YEARS, 3288: awslogs.RetentionDays_NINE_YEARS,
	3653: awslogs.RetentionDays_TEN_YEARS,
}

// readOptions reads the context through get (a context lookup returning
// nil for an unset key) and reports every bad value, naming its key.
func readOptions(get func(key string) any) (options, error) {
	o := options{
		AssetDir:         "dist",
		LogRetention:     awslogs.RetentionDays_ONE_YEAR,
		SourceRepository: "aliasflow/aliasflow",
		SourceBranch:     "main",
		Sample:           true,
		GitHubBranch:     "main",
	}
	var errs []string
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Sprintf("context %s: "+format, append([]any{key}, args...)...))
	}
	if v, ok := str(get(ctxAssetDir)); ok {
		o.AssetDir = v
	}
	emails, err := list(get(ctxApproverEmails))
	switch {
	case err != nil:
		bad(ctxApproverEmails, "%v", err)
	case len(emails) == 0:
		bad(ctxApproverEmails, "at least one approver e-mail is required (cdk.json or -c %s=a@example.com,b@example.com)", ctxApproverEmails)
	}
	for _, e := range emails {
		if a, err := mail.ParseAddress(e); err != nil || a.Address != e {
			bad(ctxApproverEmails, "%q is not a plain e-mail address", e)
		}
	}
	o.ApproverEmails = emails
	if v := get(ctxLogRetentionDays); v != nil {
		days, err := number(v)
		if r, ok := retentions[days]; err == nil && ok {
			o.LogRetention = r
		} else {
			bad(ctxLogRetentionDays, "%v is not a CloudWatch Logs retention (1, 3, 5, 7, 14, 30, 60, 90, …, 365, …, 3653 days)", v)
		}
	}
	if v, ok := str(get(ctxSourceRepository)); ok {
		if err := aliasflow.ValidateRepository(v); err != nil {
			bad(ctxSourceRepository, "%v", err)
		}
		o.SourceRepository = v
	}
	if v, ok := str(get(ctxSourceBranch)); ok {
		if err := aliasflow.ValidateBranch(v); err != nil {
			bad(ctxSourceBranch, "%v", err)
		}
		o.SourceBranch = v
	}
	for key, dst := range map[string]*bool{ctxExistingLogRole: &o.UseExistingAPIGatewayLogRole, ctxSample: &o.Sample} {
		if v := get(key); v != nil {
			switch fmt.Sprint(v) {
			case "true":
				*dst = true
			case "false":
				*dst = false
			default:
				bad(key, "%v is not true or false", v)
			}
		}
	}
	if v, ok := str(get(ctxTargetsFile)); ok {
		o.TargetsFile = v
	}
	if !o.Sample && o.TargetsFile == "" {
		bad(ctxSample, "false needs the targets the pipeline promotes: -c %s=<file> (a shared/config document, see docs/deploy.md)", ctxTargetsFile)
	}
	if v, ok := str(get(ctxGitHubRepository)); ok {
		if err := aliasflow.ValidateRepository(v); err != nil {
			bad(ctxGitHubRepository, "%v", err)
		}
		o.GitHubRepository = v
	}
	if v, ok := str(get(ctxGitHubBranch)); ok {
		if err := aliasflow.ValidateBranch(v); err != nil {
			bad(ctxGitHubBranch, "%v", err)
		}
		o.GitHubBranch = v
	}
	if v, ok := str(get(ctxGitHubProvider)); ok {
		o.GitHubProviderArn = v
	}
	if v := get(ctxApprovalRateLimit); v != nil {
		n, err := number(v)
		if err != nil || n != 0 && (n < aliasflow.MinApprovalRateLimit || n > aliasflow.MaxApprovalRateLimit) {
			bad(ctxApprovalRateLimit, "%v is not 0 (no web ACL) or a WAF rate limit of %d–%d requests per client IP per 5 minutes", v, aliasflow.MinApprovalRateLimit, aliasflow.MaxApprovalRateLimit)
		}
		o.ApprovalRateLimit = n
	}
	if len(errs) > 0 {
		return o, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return o, nil
}

// str reads a non-empty string value.
func str(v any) (string, bool) {
	s, ok := v.(string)
	s = strings.TrimSpace(s)
	return s, ok && s != ""
}

// list reads a JSON array of strings (cdk.json) or a comma-separated
// string (-c key=a,b).
func list(v any) ([]string, error) {
	var raw []string
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		raw = strings.Split(x, ",")
	case []any:
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("%v is not a string", e)
			}
			raw = append(raw, s)
		}
	default:
		return nil, fmt.Errorf("want a list of strings or a comma-separated string, got %T", v)
	}
	var out []string
	for _, s := range raw {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out, nil
}

// number reads a JSON number or a decimal string.
func number(v any) (int, error) {
	switch x := v.(type) {
	case float64:
		if x != float64(int(x)) {
			return 0, fmt.Errorf("%v is not a whole number", x)
		}
		return int(x), nil
	case string:
		return strconv.Atoi(strings.TrimSpace(x))
	default:
		return 0, fmt.Errorf("%v is not a number", v)
	}
}
