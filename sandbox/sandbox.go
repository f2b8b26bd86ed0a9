// Package sandbox is the local cloud `aliasflow local` runs: one loopback
// listener serving the AWS APIs the project calls (Lambda, Step Functions,
// EventBridge, SNS, CloudWatch, CloudWatch Logs, Secrets Manager, SSM
// Parameter Store, STS, CodeBuild),
// each dispatched by the SigV4 credential scope of the request, and the
// API Gateway stages for everything unsigned. It wires the services to one
// another through the sandbox/core interfaces and persists their state to a
// directory when asked, so a restart keeps versions, aliases and executions.
// With EnableIAM it evaluates each function's calls against the identity
// policies of the function's role in the synthesized templates (sandbox/iam)
// and answers AccessDenied as the service would.
package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/apigw"
	cwsvc "github.com/aliasflow/aliasflow/sandbox/cloudwatch"
	"github.com/aliasflow/aliasflow/sandbox/codebuild"
	"github.com/aliasflow/aliasflow/sandbox/events"
	lambdasvc "github.com/aliasflow/aliasflow/sandbox/lambda"
	logssvc "github.com/aliasflow/aliasflow/sandbox/logs"
	"github.com/aliasflow/aliasflow/sandbox/model"
	"github.com/aliasflow/aliasflow/sandbox/quota"
	secretssvc "github.com/aliasflow/aliasflow/sandbox/secrets"
	snssvc "github.com/aliasflow/aliasflow/sandbox/sns"
	ssmsvc "github.com/aliasflow/aliasflow/sandbox/ssm"
	"github.com/aliasflow/aliasflow/sandbox/states"
	stssvc "github.com/aliasflow/aliasflow/sandbox/sts"
)

// Options configure Start. Zero values default sanely.
type Options struct {
	// Addr is the listen address; it must be a loopback address.
	// Default "127.0.0.1:0" (a free port).
	Addr string
	// WorkDir holds the unpacked function code; a temporary directory,
	// removed on Close, when empty.
	WorkDir string
	// StateDir, when set, is where each service's state is saved
	// (<service>.json, and the deployment packages under lambda-code/) and
	// restored from at Start.
	StateDir string
	// Logger receives the sandbox's own diagnostics.
	Logger *slog.Logger
	// Clock is the time every service reads; time.Now when nil.
	Clock func() time.Time
	// LambdaUpdateDuration is how long a function create or code update
	// stays Pending / InProgress. Default 200ms; negative for none.
	LambdaUpdateDuration time.Duration
	// LambdaPublishDuration is how long a published version stays Pending
	// before it is Active; zero or less takes
	// lambdasvc.DefaultPublishDuration (never Active at once).
	LambdaPublishDuration time.Duration
	// Mail, when set, receives every SNS message as a readable e-mail.
	Mail io.Writer
	// EventRetryDelays are the waits before the two retries of an
	// EventBridge delivery to Lambda (see events.Options).
	EventRetryDelays []time.Duration
	// PersistInterval is how often changed state is saved. Default 1s.
	PersistInterval time.Duration
	// MetricDelay is how long after its minute ends a Lambda metric
	// datapoint is readable; cwsvc.DefaultMetricDelay (as AWS) when zero.
	// Tests may shorten it; nothing makes it zero.
	MetricDelay time.Duration
	// Quotas, when set, are the request quotas the sandbox enforces as AWS
	// does, per account and Region (quota.Default() for AWS's defaults;
	// tests tighten them). Nil enforces none.
	Quotas quota.Limits
}

// Sandbox is a running local cloud.
type Sandbox struct {
	opts     Options
	log      *slog.Logger
	lambda   *lambdasvc.Service
	states   *states.Service
	events   *events.Service
	sns      *snssvc.Service
	cw       *cwsvc.Service
	logs     *logssvc.Service
	secrets  *secretssvc.Service
	ssm      *ssmsvc.Service
	sts      *stssvc.Service
	builds   *codebuild.Service
	apigw    *apigw.Router
	services map[string]http.Handler // by SigV4 service name
	models   *model.Models           // AWS's API models, which every request must satisfy
	persist  []persisted

	ln       net.Listener
	srv      *http.Server
	endpoint string
	tmpWork  bool

	stop      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
	saveMu    sync.Mutex
	saved     map[string][]byte

	calls  callLog        // every AWS API call answered, by caller (calls.go)
	iam    iamState       // identity policies in force, decisions (authorize.go)
	quotas *quota.Limiter // request quotas (quotas.go), nil when off
}

// persisted is one service's state, saved as <name>.json.
type persisted struct {
	name string
	svc  interface {
		Snapshot() ([]byte, error)
		Restore([]byte) error
	}
}

// Start builds the services, restores saved state, and listens.
func Start(ctx context.Context, opts Options) (*Sandbox, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if err := requireLoopback(opts.Addr); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.LambdaUpdateDuration == 0 {
		opts.LambdaUpdateDuration = 200 * time.Millisecond
	}
	if opts.PersistInterval <= 0 {
		opts.PersistInterval = time.Second
	}
	sb := &Sandbox{opts: opts, log: opts.Logger, stop: make(chan struct{}), saved: map[string][]byte{}}
	if opts.Quotas != nil {
		sb.quotas = quota.New(opts.Quotas, opts.Clock)
	}
	if opts.WorkDir == "" {
		dir, err := os.MkdirTemp("", "aliasflow-sandbox-")
		if err != nil {
			return nil, fmt.Errorf("sandbox: work dir: %w", err)
		}
		opts.WorkDir, sb.tmpWork = dir, true
		sb.opts.WorkDir = dir
	}
	codeDir := ""
	if opts.StateDir != "" {
		codeDir = filepath.Join(opts.StateDir, "lambda-code")
		if err := os.MkdirAll(opts.StateDir, 0o755); err != nil {
			return nil, fmt.Errorf("sandbox: state dir: %w", err)
		}
	}

	sb.logs = logssvc.New(opts.Clock)
	sb.cw = cwsvc.New(&cwsvc.Options{Now: opts.Clock, MetricDelay: opts.MetricDelay})
	lam, err := lambdasvc.New(lambdasvc.Options{
		WorkDir: opts.WorkDir, CodeDir: codeDir, Logger: opts.Logger.With("service", "lambda"), Clock: opts.Clock,
		UpdateDuration: opts.LambdaUpdateDuration, PublishDuration: opts.LambdaPublishDuration, Invocations: sb.cw, Logs: sb.logs,
	})
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	sb.lambda = lam
	sb.states = states.New(lam, &states.Options{Now: opts.Clock, Logger: opts.Logger.With("service", "states")})
	sb.events = events.New(lam, sb.states, &events.Options{Now: opts.Clock, Logger: opts.Logger.With("service", "events"), RetryDelays: opts.EventRetryDelays})
	sb.builds = codebuild.New(sb.events, &codebuild.Options{Now: opts.Clock})
	// Confirmation links point at this sandbox, which serves them (ServeHTTP).
	sb.sns = snssvc.New(&snssvc.Options{Print: opts.Mail, Now: opts.Clock, ConfirmationBase: func() string { return sb.endpoint },
		EmailPerSecond: emailPerSecond(opts.Quotas)})
	sb.secrets = secretssvc.New(opts.Clock)
	sb.ssm = ssmsvc.New(opts.Clock)
	// Parameter writes reach EventBridge as CloudTrail's records of them,
	// as on an account with a trail: aliasflow audits settings changes
	// from them.
	sb.ssm.SetEventBus(sb.events)
	// So do version deletions: aliasflow audits them from CloudTrail's
	// records of the DeleteFunction calls.
	sb.lambda.SetEventBus(sb.events)
	sb.sts = stssvc.New()
	sb.apigw = apigw.New(lam, &apigw.Options{Logger: opts.Logger.With("service", "apigateway"), Now: opts.Clock})
	sb.services = map[string]http.Handler{
		"lambda": sb.lambda, "states": sb.states, "events": sb.events, "logs": sb.logs,
		"secretsmanager": sb.secrets, "sns": sb.sns, "sts": sb.sts, "monitoring": sb.cw,
		"codebuild": sb.builds, "ssm": sb.ssm,
	}
	if sb.models, err = loadModels(sb.services); err != nil {
		sb.shutdownServices()
		return nil, err
	}
	// Lambda comes first: a restored execution may invoke a function at once.
	sb.persist = []persisted{
		{"lambda", sb.lambda}, {"logs", sb.logs}, {"cloudwatch", sb.cw}, {"secretsmanager", sb.secrets}, {"ssm", sb.ssm},
		{"sns", sb.sns}, {"codebuild", sb.builds}, {"events", sb.events}, {"states", sb.states},
	}
	if opts.StateDir != "" {
		if err := sb.restore(); err != nil {
			sb.shutdownServices()
			return nil, err
		}
	}

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", opts.Addr)
	if err != nil {
		sb.shutdownServices()
		return nil, fmt.Errorf("sandbox: listen %s: %w", opts.Addr, err)
	}
	sb.ln = ln
	sb.endpoint = "http://" + ln.Addr().String()
	sb.srv = &http.Server{Handler: sb, ReadHeaderTimeout: 30 * time.Second}
	sb.wg.Add(1)
	go func() {
		defer sb.wg.Done()
		if err := sb.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			sb.log.Error("sandbox: serve", "error", err)
		}
	}()
	if opts.StateDir != "" {
		sb.wg.Add(1)
		go sb.persistLoop()
	}
	sb.log.Info("sandbox listening", "endpoint", sb.endpoint)
	return sb, nil
}

// requireLoopback refuses any listen address that is not loopback: the
// sandbox has no authentication and must never be reachable from outside.
func requireLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("sandbox: listen address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("sandbox: refusing to listen on %q: only loopback addresses (127.0.0.1, ::1, localhost) are allowed", addr)
	}
	return nil
}

// Endpoint is the URL to give AWS_ENDPOINT_URL / --endpoint-url.
func (sb *Sandbox) Endpoint() string { return sb.endpoint }

// Lambda is the Lambda service's Go API.
func (sb *Sandbox) Lambda() *lambdasvc.Service { return sb.lambda }

// States is the Step Functions service's Go API.
func (sb *Sandbox) States() *states.Service { return sb.states }

// Events is the EventBridge service's Go API.
func (sb *Sandbox) Events() *events.Service { return sb.events }

// CodeBuild is the CodeBuild service's Go API (RunBuild: a build that
// emits its own state-change event).
func (sb *Sandbox) CodeBuild() *codebuild.Service { return sb.builds }

// SNS is the SNS service's Go API (topics, the outbox).
func (sb *Sandbox) SNS() *snssvc.Service { return sb.sns }

// CloudWatch is the CloudWatch service's Go API (alarms, metrics).
func (sb *Sandbox) CloudWatch() *cwsvc.Service { return sb.cw }

// Logs is the CloudWatch Logs service's Go API.
func (sb *Sandbox) Logs() *logssvc.Service { return sb.logs }

// Secrets is the Secrets Manager service's Go API.
func (sb *Sandbox) Secrets() *secretssvc.Service { return sb.secrets }

// SSM is the Parameter Store service's Go API.
func (sb *Sandbox) SSM() *ssmsvc.Service { return sb.ssm }

// APIGateway is the stage router's Go API.
func (sb *Sandbox) APIGateway() *apigw.Router { return sb.apigw }

// Close stops serving, stops the services, saves the state and stops every
// function process.
func (sb *Sandbox) Close() error {
	var err error
	sb.closeOnce.Do(func() {
		close(sb.stop)
		if sb.srv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = sb.srv.Shutdown(ctx)
			cancel()
			_ = sb.srv.Close()
		}
		sb.wg.Wait()
		sb.events.Close()
		sb.states.Close()
		if sb.opts.StateDir != "" {
			err = sb.save()
		}
		sb.lambda.Close()
		if sb.tmpWork {
			_ = os.RemoveAll(sb.opts.WorkDir)
		}
	})
	return err
}

func (sb *Sandbox) shutdownServices() {
	sb.events.Close()
	sb.states.Close()
	sb.lambda.Close()
	if sb.tmpWork {
		_ = os.RemoveAll(sb.opts.WorkDir)
	}
}

// ---- dispatch -----------------------------------------------------------------

// credentialService returns the service of a SigV4-signed request's
// credential scope (Credential=AKID/date/region/service/aws4_request), from
// the Authorization header or a presigned URL; "" when unsigned.
func credentialService(r *http.Request) string {
	cred := ""
	if auth := r.Header.Get("Authorization"); strings.HasPrefix(auth, "AWS4-HMAC-SHA256 ") {
		for part := range strings.SplitSeq(strings.TrimPrefix(auth, "AWS4-HMAC-SHA256 "), ",") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(part), "Credential="); ok {
				cred = v
			}
		}
	} else if v := r.URL.Query().Get("X-Amz-Credential"); v != "" {
		cred = v
	}
	if cred == "" {
		return ""
	}
	parts := strings.Split(cred, "/")
	if len(parts) != 5 || parts[4] != "aws4_request" {
		return "?"
	}
	return parts[3]
}

// ServeHTTP dispatches signed requests to their service and unsigned ones,
// and those signed for execute-api, to the API Gateway stages.
func (sb *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	svc := credentialService(r)
	switch {
	case svc == "?":
		writeAuthError(w, http.StatusForbidden, "IncompleteSignatureException", "Authorization header requires a Credential of the form AKID/date/region/service/aws4_request")
	case svc == "execute-api" && sb.apigw.Handles(r):
		// A request signed for API Gateway: an IAM-authorized method's.
		sb.apigw.ServeHTTP(w, r)
	case svc != "":
		h, ok := sb.services[svc]
		if !ok {
			writeAuthError(w, http.StatusBadRequest, "UnknownServiceException", fmt.Sprintf("the sandbox does not implement the AWS service %q (it serves lambda, states, events, logs, secretsmanager, sns, sts, monitoring, codebuild, ssm)", svc))
			return
		}
		sb.serveCounted(w, r, svc, h)
	case r.Method == http.MethodGet && r.URL.Path == snssvc.ConfirmationPath:
		// The link of SNS's subscription confirmation e-mail: unsigned, as
		// the recipient's browser opens it.
		sb.sns.ServeConfirmation(w, r)
	case r.Method == http.MethodGet && r.URL.Path == snssvc.UnsubscribePath:
		// The unsubscribe link of every SNS e-mail, unsigned likewise.
		sb.sns.ServeUnsubscribe(w, r)
	case sb.apigw.Handles(r):
		sb.apigw.ServeHTTP(w, r)
	case looksLikeServiceCall(r):
		writeAuthError(w, http.StatusForbidden, "MissingAuthenticationTokenException", "Missing Authentication Token: AWS API calls must be signed (SigV4)")
	default:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"message":"Not Found"}` + "\n"))
	}
}

// looksLikeServiceCall spots an unsigned AWS API call, to refuse it as AWS
// does rather than answer 404.
func looksLikeServiceCall(r *http.Request) bool {
	return r.Header.Get("X-Amz-Target") != "" || strings.HasPrefix(r.URL.Path, "/2015-03-31/") ||
		strings.HasPrefix(r.URL.Path, "/service/") || strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-amz-json")
}

func writeAuthError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	fmt.Fprintf(w, "{\"__type\":%q,\"message\":%q}\n", code, msg)
}

// ---- persistence ----------------------------------------------------------------

func (sb *Sandbox) restore() error {
	for _, p := range sb.persist {
		data, err := os.ReadFile(filepath.Join(sb.opts.StateDir, p.name+".json"))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("sandbox: restore %s: %w", p.name, err)
		}
		if err := p.svc.Restore(data); err != nil {
			return fmt.Errorf("sandbox: restore %s from %s: %w", p.name, sb.opts.StateDir, err)
		}
		sb.saved[p.name] = data
	}
	return nil
}

// save writes each service's snapshot that changed since the last save.
func (sb *Sandbox) save() error {
	sb.saveMu.Lock()
	defer sb.saveMu.Unlock()
	var errs []error
	for _, p := range sb.persist {
		data, err := p.svc.Snapshot()
		if err != nil {
			errs = append(errs, fmt.Errorf("snapshot %s: %w", p.name, err))
			continue
		}
		if bytes.Equal(data, sb.saved[p.name]) {
			continue
		}
		path := filepath.Join(sb.opts.StateDir, p.name+".json")
		if err := os.WriteFile(path+".tmp", data, 0o644); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := os.Rename(path+".tmp", path); err != nil {
			errs = append(errs, err)
			continue
		}
		sb.saved[p.name] = data
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sandbox: save state: %w", err)
	}
	return nil
}

func (sb *Sandbox) persistLoop() {
	defer sb.wg.Done()
	t := time.NewTicker(sb.opts.PersistInterval)
	defer t.Stop()
	for {
		select {
		case <-sb.stop:
			return
		case <-t.C:
			if err := sb.save(); err != nil {
				sb.log.Warn("sandbox: persist", "error", err)
			}
		}
	}
}

// Save writes the state now (it is also saved periodically and on Close).
func (sb *Sandbox) Save() error {
	if sb.opts.StateDir == "" {
		return errors.New("sandbox: no StateDir to save to")
	}
	return sb.save()
}
