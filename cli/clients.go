package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aliasflow/aliasflow/shared/prune"
	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// LambdaAPI is the Lambda calls the CLI makes.
type LambdaAPI interface {
	ListAliases(ctx context.Context, in *lambda.ListAliasesInput, opts ...func(*lambda.Options)) (*lambda.ListAliasesOutput, error)
	ListVersionsByFunction(ctx context.Context, in *lambda.ListVersionsByFunctionInput, opts ...func(*lambda.Options)) (*lambda.ListVersionsByFunctionOutput, error)
	GetFunctionConfiguration(ctx context.Context, in *lambda.GetFunctionConfigurationInput, opts ...func(*lambda.Options)) (*lambda.GetFunctionConfigurationOutput, error)
}

// StatesAPI is the Step Functions calls the CLI makes.
type StatesAPI interface {
	ListStateMachines(ctx context.Context, in *sfn.ListStateMachinesInput, opts ...func(*sfn.Options)) (*sfn.ListStateMachinesOutput, error)
	ListExecutions(ctx context.Context, in *sfn.ListExecutionsInput, opts ...func(*sfn.Options)) (*sfn.ListExecutionsOutput, error)
	DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, opts ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
	GetExecutionHistory(ctx context.Context, in *sfn.GetExecutionHistoryInput, opts ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error)
}

// LogsAPI is the CloudWatch Logs call the CLI makes (the audit trail).
type LogsAPI interface {
	FilterLogEvents(ctx context.Context, in *cloudwatchlogs.FilterLogEventsInput, opts ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error)
}

// EventsAPI is the EventBridge call the CLI makes (release).
type EventsAPI interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// IdentityAPI is the STS call that names the operator.
type IdentityAPI interface {
	GetCallerIdentity(ctx context.Context, in *sts.GetCallerIdentityInput, opts ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
}

// ProofAPI presigns the sts:GetCallerIdentity request that proves the
// caller of `release` to the release Lambda (release.ProofHeader).
type ProofAPI interface {
	PresignGetCallerIdentity(ctx context.Context, in *sts.GetCallerIdentityInput, optFns ...func(*sts.PresignOptions)) (*v4.PresignedHTTPRequest, error)
}

// SettingsAPI is the Parameter Store call that lists the targets (their
// settings parameters, package settings).
type SettingsAPI interface {
	GetParametersByPath(ctx context.Context, in *ssm.GetParametersByPathInput, opts ...func(*ssm.Options)) (*ssm.GetParametersByPathOutput, error)
}

// ParametersAPI is the Parameter Store call `settings set` makes on one
// target's settings parameter: the settings owner's, not an operator's.
// `settings get` reads through SettingsAPI, by path, which is what
// aliasflow-operators grant (ssm:GetParametersByPath; no ssm:GetParameter).
type ParametersAPI interface {
	PutParameter(ctx context.Context, in *ssm.PutParameterInput, opts ...func(*ssm.Options)) (*ssm.PutParameterOutput, error)
}

// ApprovalAPI is the call approve, reject, promote, resume, abort and rollback
// make: a POST to the approval REST API's IAM-authorized resources
// (approval.DecidePath, approval.OverridePath), SigV4-signed so that API
// Gateway verifies who calls and the approval Lambda records that
// identity. url is the resource's address.
type ApprovalAPI interface {
	Invoke(ctx context.Context, url string, body []byte) (status int, response []byte, err error)
}

// signedAPI is ApprovalAPI over HTTP, signed with the SDK's SigV4 signer
// for execute-api ("Signing AWS API requests", IAM User Guide; API Gateway
// "Control access to a REST API with IAM permissions").
type signedAPI struct {
	creds  aws.CredentialsProvider
	region string
	client aws.HTTPClient
	now    func() time.Time
}

func (s signedAPI) Invoke(ctx context.Context, url string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	creds, err := s.creds.Retrieve(ctx)
	if err != nil {
		return 0, nil, fmt.Errorf("AWS credentials: %w", err)
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "execute-api", s.region, s.now()); err != nil {
		return 0, nil, fmt.Errorf("sign the request: %w", err)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, out, err
}

// Clients are the AWS clients the commands use.
type Clients struct {
	Lambda   LambdaAPI
	States   StatesAPI
	Logs     LogsAPI
	Events   EventsAPI
	Identity IdentityAPI
	// Settings lists the targets; status skips the listing when nil.
	Settings SettingsAPI
	// Parameters writes one target's settings (settings set).
	Parameters ParametersAPI
	// Proofs presigns release's caller proof; without it the requester
	// is only claimed.
	Proofs ProofAPI
	// Approvals decides and overrides through the approval API.
	Approvals ApprovalAPI
	// Prune deletes versions and reads the Region's code storage (prune);
	// prune refuses to run without it.
	Prune prune.LambdaAPI
}

var (
	_ LambdaAPI     = (*lambda.Client)(nil)
	_ StatesAPI     = (*sfn.Client)(nil)
	_ LogsAPI       = (*cloudwatchlogs.Client)(nil)
	_ EventsAPI     = (*eventbridge.Client)(nil)
	_ IdentityAPI   = (*sts.Client)(nil)
	_ SettingsAPI   = (*ssm.Client)(nil)
	_ ParametersAPI = (*ssm.Client)(nil)
	_ ProofAPI      = (*sts.PresignClient)(nil)
)
