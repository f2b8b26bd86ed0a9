// Package apigw is the sandbox's API Gateway: REST APIs, each declaring
// the methods of its resources, and their stages, each with stage
// variables and a Lambda proxy integration whose target may name a stage
// variable (`hello:${stageVariables.lambdaAlias}`), served under
// /{stage}/... with API Gateway's proxy event and response semantics. A
// request for a resource or method its API does not define is answered as
// API Gateway answers it: 403 Missing Authentication Token.
package apigw

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"mime"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/aliasflow/aliasflow/sandbox/core"
	stssvc "github.com/aliasflow/aliasflow/sandbox/sts"
)

// Stage is one deployed stage of the API.
type Stage struct {
	// Name is the first path segment the stage answers under.
	Name string
	// Variables are the stage variables, given to the function in the event
	// and substituted into Target.
	Variables map[string]string
	// Target is the integration's function: a name, name:qualifier or ARN,
	// which may contain ${stageVariables.<name>}.
	Target string
	// API is the id of the REST API the stage belongs to (PutAPI), whose
	// methods it serves and which its execute-api ARNs name.
	API string
}

// Method is one method of a REST API: an HTTP method on a resource.
type Method struct {
	// HTTPMethod is GET, POST, ... or ANY (every method).
	HTTPMethod string
	// Path is the resource's path: "/" (the root resource), "/items",
	// "/items/{id}", "/{proxy+}" (a greedy path variable, last).
	Path string
	// AuthorizationType is the method's: "" (NONE) or AuthIAM.
	AuthorizationType string
}

// AuthIAM is the AuthorizationType of a method that takes only
// SigV4-signed requests from callers allowed execute-api:Invoke on it
// ("Control access to a REST API with IAM permissions",
// https://docs.aws.amazon.com/apigateway/latest/developerguide/permissions.html).
const AuthIAM = "AWS_IAM"

func (m Method) String() string {
	if m.AuthorizationType != "" && m.AuthorizationType != "NONE" {
		return m.HTTPMethod + " " + m.Path + " " + m.AuthorizationType
	}
	return m.HTTPMethod + " " + m.Path
}

// Caller is who signed a request to an AWS_IAM method, as the sandbox's
// IAM knows them.
type Caller struct {
	// ARN is the principal: "The ARN of the effective user identified
	// after authentication" (requestContext.identity.userArn, "Set up
	// Lambda proxy integrations in API Gateway",
	// https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html).
	ARN string
	// ID is the principal's id (identity.user and identity.caller).
	ID string
}

// CallerAuthorizer names the caller of a SigV4-signed request with the
// signature's access key id and decides whether it may invoke the method
// whose execute-api ARN is methodARN (execute-api:Invoke); a non-nil
// error denies it.
type CallerAuthorizer func(accessKeyID, methodARN string) (Caller, error)

// SetCallerAuthorizer makes AWS_IAM methods ask f who calls and whether
// they may; nil (the default) names the caller as the sandbox's STS does
// (the IAM user named after the access key) and allows every signed call.
func (r *Router) SetCallerAuthorizer(f CallerAuthorizer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.callers = f
}

// API is a REST API: its id and the methods its resources define. A stage
// of the API serves those methods only.
type API struct {
	// ID is the API's id, which execute-api ARNs and the Lambda
	// permissions' source ARNs name.
	ID      string
	Methods []Method
}

// InvokeAuthorizer decides whether API Gateway may invoke the integration's
// function (name or ARN, and qualifier) for the request whose execute-api
// ARN is sourceARN; a non-nil error denies it.
type InvokeAuthorizer func(sourceARN, function, qualifier string) error

// SetInvokeAuthorizer makes every request to a stage with an API ask f
// before invoking the function; nil (the default) allows every call.
func (r *Router) SetInvokeAuthorizer(f InvokeAuthorizer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.authorize = f
}

// ExecuteAPIARN is the execute-api ARN of a request, the source API
// Gateway invokes a Lambda integration for:
// arn:aws:execute-api:region:account:api-id/stage/METHOD/resource-path
// ("API Gateway Amazon Resource Name (ARN) reference", execute-api,
// https://docs.aws.amazon.com/apigateway/latest/developerguide/arn-format-reference.html).
func ExecuteAPIARN(api, stage, method, path string) string {
	return fmt.Sprintf("arn:aws:execute-api:%s:%s:%s/%s/%s%s", core.Region, core.Account, api, stage, method, path)
}

// Options tune a Router.
type Options struct {
	Logger *slog.Logger
	// Now stamps requestContext.requestTime; time.Now when nil.
	Now func() time.Time
}

// Router serves the stages. It is an http.Handler; Handles says whether a
// request belongs to one of its stages.
type Router struct {
	invoker core.Invoker
	log     *slog.Logger
	now     func() time.Time

	mu        sync.RWMutex
	apis      map[string]API
	stages    map[string]Stage
	authorize InvokeAuthorizer
	callers   CallerAuthorizer
}

// New returns a Router with no APIs or stages, invoking functions through
// invoker.
func New(invoker core.Invoker, opts *Options) *Router {
	r := &Router{invoker: invoker, log: slog.New(slog.DiscardHandler), now: time.Now, apis: map[string]API{}, stages: map[string]Stage{}}
	if opts != nil {
		if opts.Logger != nil {
			r.log = opts.Logger
		}
		if opts.Now != nil {
			r.now = opts.Now
		}
	}
	return r
}

var (
	stageNameRe = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,128}$`)
	stageVarRe  = regexp.MustCompile(`\$\{stageVariables\.([a-zA-Z0-9_]+)\}`)
	varNameRe   = regexp.MustCompile(`^[a-zA-Z0-9_]+$`)
	// httpMethodRe: a method is named in capitals, as API Gateway and
	// HTTP name them (GET, POST, ... and API Gateway's ANY).
	httpMethodRe = regexp.MustCompile(`^[A-Z]+$`)
)

// PutAPI adds or replaces a REST API and the methods of its resources.
func (r *Router) PutAPI(a API) error {
	if a.ID == "" {
		return errors.New("apigw: an API needs an id")
	}
	seen := map[Method]bool{}
	for _, m := range a.Methods {
		if !httpMethodRe.MatchString(m.HTTPMethod) {
			return fmt.Errorf("apigw: API %s: %q is not an HTTP method (GET, POST, ... or ANY)", a.ID, m.HTTPMethod)
		}
		if err := checkResourcePath(m.Path); err != nil {
			return fmt.Errorf("apigw: API %s: %w", a.ID, err)
		}
		switch m.AuthorizationType {
		case "", "NONE", AuthIAM:
		default:
			return fmt.Errorf("apigw: API %s: %s: authorization type %q is not NONE or %s", a.ID, m, m.AuthorizationType, AuthIAM)
		}
		key := Method{HTTPMethod: m.HTTPMethod, Path: m.Path}
		if seen[key] {
			return fmt.Errorf("apigw: API %s declares %s twice", a.ID, m)
		}
		seen[key] = true
	}
	a.Methods = slices.Clone(a.Methods)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.apis[a.ID] = a
	return nil
}

// checkResourcePath accepts "/" and /-separated path parts, each a literal,
// a {variable} or, last, a greedy {variable+}.
func checkResourcePath(p string) error {
	if p == "/" {
		return nil
	}
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	if !strings.HasPrefix(p, "/") || slices.Contains(parts, "") {
		return fmt.Errorf("resource path %q must be / or /part/part (parts not empty)", p)
	}
	for i, part := range parts {
		if strings.HasSuffix(part, "+}") && i != len(parts)-1 {
			return fmt.Errorf("resource path %q: a greedy path variable must be its last part", p)
		}
	}
	return nil
}

// PutStage adds or replaces a stage of an API already put.
func (r *Router) PutStage(s Stage) error {
	if !stageNameRe.MatchString(s.Name) {
		return fmt.Errorf("apigw: stage name %q must be 1-128 of a-z A-Z 0-9 - _", s.Name)
	}
	if s.Target == "" {
		return fmt.Errorf("apigw: stage %s: integration target is empty", s.Name)
	}
	for k := range s.Variables {
		if !varNameRe.MatchString(k) {
			return fmt.Errorf("apigw: stage %s: stage variable name %q must be alphanumeric or _", s.Name, k)
		}
	}
	for _, m := range stageVarRe.FindAllStringSubmatch(s.Target, -1) {
		if _, ok := s.Variables[m[1]]; !ok {
			return fmt.Errorf("apigw: stage %s: target %q uses stage variable %s, which the stage does not define", s.Name, s.Target, m[1])
		}
	}
	s.Variables = maps.Clone(s.Variables)
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.apis[s.API]; !ok {
		return fmt.Errorf("apigw: stage %s: no API %q (PutAPI first)", s.Name, s.API)
	}
	r.stages[s.Name] = s
	return nil
}

// Stages lists the stages by name.
func (r *Router) Stages() []Stage {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Stage, 0, len(r.stages))
	for _, n := range slices.Sorted(maps.Keys(r.stages)) {
		out = append(out, r.stages[n])
	}
	return out
}

// split returns the stage, its API and the path below the stage.
func (r *Router) split(path string) (Stage, API, string, bool) {
	rest := strings.TrimPrefix(path, "/")
	name, sub, _ := strings.Cut(rest, "/")
	r.mu.RLock()
	s, ok := r.stages[name]
	a := r.apis[s.API]
	r.mu.RUnlock()
	return s, a, "/" + sub, ok
}

// route finds the method of the API that serves method on path (the path
// below the stage): its resource path and path parameters. A literal part
// is preferred to a {variable}, and a {variable} to a greedy {variable+},
// part by part; a resource with no method for the request's (nor ANY) does
// not serve it.
func (a API) route(method, path string) (Method, map[string]string, bool) {
	var best Method
	var bestParams map[string]string
	var bestRank []int
	for _, m := range a.Methods {
		if m.HTTPMethod != method && m.HTTPMethod != "ANY" {
			continue
		}
		params, rank, ok := matchResource(m.Path, path)
		if !ok {
			continue
		}
		// The resource's own method wins over its ANY.
		if bestRank == nil || slices.Compare(rank, bestRank) > 0 ||
			(slices.Equal(rank, bestRank) && m.Path == best.Path && m.HTTPMethod != "ANY") {
			best, bestParams, bestRank = m, params, rank
		}
	}
	return best, bestParams, bestRank != nil
}

// matchResource matches a request path against a resource path; rank
// scores each part (2 literal, 1 variable, 0 greedy) for precedence.
func matchResource(resource, path string) (map[string]string, []int, bool) {
	if resource == "/" {
		return nil, []int{3}, path == "/"
	}
	if path == "/" {
		return nil, nil, false
	}
	want := strings.Split(strings.TrimPrefix(resource, "/"), "/")
	got := strings.Split(strings.TrimPrefix(path, "/"), "/")
	var params map[string]string
	var rank []int
	for i, w := range want {
		if i >= len(got) || got[i] == "" {
			return nil, nil, false
		}
		if name, ok := strings.CutPrefix(w, "{"); ok && strings.HasSuffix(name, "+}") {
			if params == nil {
				params = map[string]string{}
			}
			params[strings.TrimSuffix(name, "+}")] = strings.Join(got[i:], "/")
			return params, append(rank, 0), true
		}
		if name, ok := strings.CutPrefix(w, "{"); ok && strings.HasSuffix(name, "}") {
			if params == nil {
				params = map[string]string{}
			}
			params[strings.TrimSuffix(name, "}")] = got[i]
			rank = append(rank, 1)
			continue
		}
		if w != got[i] {
			return nil, nil, false
		}
		rank = append(rank, 2)
	}
	return params, rank, len(got) == len(want)
}

// Handles reports whether the request's path is under one of the stages.
func (r *Router) Handles(req *http.Request) bool {
	_, _, _, ok := r.split(req.URL.Path)
	return ok
}

// ResolveTarget substitutes the stage variables into the stage's target.
func (s Stage) ResolveTarget() string {
	return stageVarRe.ReplaceAllStringFunc(s.Target, func(m string) string {
		return s.Variables[stageVarRe.FindStringSubmatch(m)[1]]
	})
}

// splitTarget turns name:qualifier into its parts; an ARN is passed whole.
func splitTarget(t string) (string, string) {
	if strings.HasPrefix(t, "arn:") {
		return t, ""
	}
	name, q, _ := strings.Cut(t, ":")
	return name, q
}

func writeMessage(w http.ResponseWriter, status int, errType, msg string) {
	w.Header().Set("Content-Type", "application/json")
	if errType != "" {
		w.Header().Set("x-amzn-ErrorType", errType)
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// ServeHTTP proxies a request to its stage's function.
func (r *Router) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	id := requestID()
	w.Header().Set("x-amzn-RequestId", id)
	stage, api, sub, ok := r.split(req.URL.Path)
	if !ok {
		writeMessage(w, http.StatusNotFound, "NotFoundException", "Not Found")
		return
	}
	method, params, ok := api.route(req.Method, sub)
	if !ok {
		// A resource or method the API does not define: API Gateway answers
		// 403 {"message":"Missing Authentication Token"}, its
		// MISSING_AUTHENTICATION_TOKEN gateway response ("Gateway response
		// types for API Gateway": "including the cases when the client
		// attempts to invoke an unsupported API method or resource",
		// https://docs.aws.amazon.com/apigateway/latest/developerguide/supported-gateway-response-types.html;
		// "Gateway responses for REST APIs in API Gateway",
		// https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-gatewayResponse-definition.html;
		// AWS Knowledge Center, "How do I troubleshoot API Gateway REST API
		// endpoint 403 "Missing Authentication Token" errors?",
		// https://repost.aws/knowledge-center/api-gateway-authentication-token-errors).
		// The x-amzn-ErrorType value is the error type API Gateway names
		// this response with; the documentation above does not give the
		// header, so it is not part of what a test may rely on.
		r.log.Info("apigw: no such resource or method", "stage", stage.Name, "api", api.ID, "method", req.Method, "path", sub)
		writeMessage(w, http.StatusForbidden, "MissingAuthenticationTokenException", "Missing Authentication Token")
		return
	}
	var caller *Caller
	if method.AuthorizationType == AuthIAM {
		c, ok := r.authenticate(w, req, ExecuteAPIARN(stage.API, stage.Name, req.Method, sub))
		if !ok {
			return
		}
		caller = &c
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, 10<<20+1))
	if err != nil {
		writeMessage(w, http.StatusBadRequest, "BadRequestException", "could not read the request body")
		return
	}
	if len(body) > 10<<20 {
		writeMessage(w, http.StatusRequestEntityTooLarge, "RequestTooLargeException", "Request Too Long")
		return
	}
	event := r.event(req, stage, method.Path, params, sub, id, body)
	if caller != nil {
		event.RequestContext.Identity.UserArn = caller.ARN
		event.RequestContext.Identity.User = caller.ID
		event.RequestContext.Identity.Caller = caller.ID
		event.RequestContext.Identity.AccessKey = stssvc.AccessKeyID(req)
		event.RequestContext.Identity.AccountID = core.Account
	}
	payload, err := json.Marshal(event)
	if err != nil {
		writeMessage(w, http.StatusInternalServerError, "InternalServerErrorException", "Internal server error")
		return
	}
	fn, q := splitTarget(stage.ResolveTarget())
	r.mu.RLock()
	authorize := r.authorize
	r.mu.RUnlock()
	if authorize != nil {
		// A function whose resource-based policy does not let the API
		// invoke it: API Gateway answers 500 Internal server error
		// ("Invalid permissions on Lambda function" in its execution log;
		// "Why does my API Gateway API return a 500 error when it invokes a
		// Lambda function with a stage variable?", AWS Knowledge Center,
		// https://repost.aws/knowledge-center/api-gateway-lambda-stage-variable-500).
		if err := authorize(ExecuteAPIARN(stage.API, stage.Name, req.Method, sub), fn, q); err != nil {
			r.log.Warn("apigw: Execution failed due to configuration error: Invalid permissions on Lambda function", "stage", stage.Name, "target", stage.ResolveTarget(), "error", err)
			writeMessage(w, http.StatusInternalServerError, "InternalServerErrorException", "Internal server error")
			return
		}
	}
	res, err := r.invoker.Invoke(req.Context(), fn, q, payload)
	if err != nil {
		// An integration that cannot be invoked is API Gateway's 500.
		r.log.Warn("apigw: invoke failed", "stage", stage.Name, "target", stage.ResolveTarget(), "error", err)
		writeMessage(w, http.StatusInternalServerError, "InternalServerErrorException", "Internal server error")
		return
	}
	if res.FunctionError != "" {
		r.log.Warn("apigw: function error", "stage", stage.Name, "target", stage.ResolveTarget(), "payload", string(res.Payload))
		writeMessage(w, http.StatusBadGateway, "InternalServerErrorException", "Internal server error")
		return
	}
	if err := writeProxyResponse(w, res.Payload); err != nil {
		r.log.Warn("apigw: malformed Lambda proxy response", "stage", stage.Name, "error", err)
		writeMessage(w, http.StatusBadGateway, "InternalServerErrorException", "Internal server error")
	}
}

// authenticate admits a request to an AWS_IAM method, or answers as API
// Gateway does: an unsigned request gets 403 Missing Authentication Token,
// a caller without execute-api:Invoke on the method 403 with IAM's
// message.
func (r *Router) authenticate(w http.ResponseWriter, req *http.Request, methodARN string) (Caller, bool) {
	key := stssvc.AccessKeyID(req)
	if key == "" || !strings.HasPrefix(req.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		writeMessage(w, http.StatusForbidden, "MissingAuthenticationTokenException", "Missing Authentication Token")
		return Caller{}, false
	}
	r.mu.RLock()
	f := r.callers
	r.mu.RUnlock()
	if f == nil {
		id := stssvc.Identity(key)
		return Caller{ARN: id.Arn, ID: id.UserId}, true
	}
	c, err := f(key, methodARN)
	if err != nil {
		r.log.Warn("apigw: caller not authorized", "method", methodARN, "error", err)
		writeMessage(w, http.StatusForbidden, "AccessDeniedException", err.Error())
		return Caller{}, false
	}
	return c, true
}

// event builds the REST API proxy event for the request of the resource
// whose path is resource.
func (r *Router) event(req *http.Request, stage Stage, resource string, params map[string]string, sub, id string, body []byte) events.APIGatewayProxyRequest {
	headers, mvHeaders := map[string]string{}, map[string][]string{}
	for k, vs := range req.Header {
		headers[k] = vs[len(vs)-1]
		mvHeaders[k] = slices.Clone(vs)
	}
	if req.Host != "" {
		headers["Host"], mvHeaders["Host"] = req.Host, []string{req.Host}
	}
	var query map[string]string
	var mvQuery map[string][]string
	if q := req.URL.Query(); len(q) > 0 {
		query, mvQuery = map[string]string{}, map[string][]string{}
		for k, vs := range q {
			query[k] = vs[len(vs)-1]
			mvQuery[k] = slices.Clone(vs)
		}
	}
	ip, _, err := net.SplitHostPort(req.RemoteAddr)
	if err != nil {
		ip = req.RemoteAddr
	}
	now := r.now()
	e := events.APIGatewayProxyRequest{
		Resource: resource, Path: sub, HTTPMethod: req.Method,
		Headers: headers, MultiValueHeaders: mvHeaders,
		QueryStringParameters: query, MultiValueQueryStringParameters: mvQuery,
		PathParameters: params, StageVariables: maps.Clone(stage.Variables),
		RequestContext: events.APIGatewayProxyRequestContext{
			AccountID: core.Account, ResourcePath: resource, Stage: stage.Name, RequestID: id,
			HTTPMethod: req.Method, APIID: stage.API, Path: "/" + stage.Name + strings.TrimSuffix(sub, "/"),
			Protocol: req.Proto, RequestTime: now.UTC().Format("02/Jan/2006:15:04:05 -0700"), RequestTimeEpoch: now.UnixMilli(),
			Identity: events.APIGatewayRequestIdentity{SourceIP: ip, UserAgent: req.UserAgent()},
		},
	}
	if len(body) > 0 {
		if isText(req.Header.Get("Content-Type"), body) {
			e.Body = string(body)
		} else {
			e.Body, e.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
		}
	}
	return e
}

// isText says whether a body travels as text; anything else is base64, as
// with binary media types configured.
func isText(contentType string, body []byte) bool {
	if !utf8.Valid(body) {
		return false
	}
	if contentType == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return true
	}
	return strings.HasPrefix(mt, "text/") || strings.HasSuffix(mt, "json") || strings.HasSuffix(mt, "xml") ||
		mt == "application/x-www-form-urlencoded" || mt == "application/javascript"
}

// proxyResponse is the Lambda proxy response, strictly: a missing or bad
// statusCode makes API Gateway answer 502.
type proxyResponse struct {
	StatusCode        *int                `json:"statusCode"`
	Headers           map[string]string   `json:"headers"`
	MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
	Body              *string             `json:"body"`
	IsBase64Encoded   bool                `json:"isBase64Encoded"`
}

func writeProxyResponse(w http.ResponseWriter, payload []byte) error {
	var p proxyResponse
	if err := json.Unmarshal(payload, &p); err != nil {
		return fmt.Errorf("not a proxy response: %w", err)
	}
	if p.StatusCode == nil || *p.StatusCode < 100 || *p.StatusCode > 599 {
		return fmt.Errorf("statusCode missing or invalid in %s", truncate(payload))
	}
	var body []byte
	if p.Body != nil {
		body = []byte(*p.Body)
		if p.IsBase64Encoded {
			b, err := base64.StdEncoding.DecodeString(*p.Body)
			if err != nil {
				return fmt.Errorf("isBase64Encoded body is not base64: %w", err)
			}
			body = b
		}
	}
	h := w.Header()
	for k, vs := range p.MultiValueHeaders {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	for k, v := range p.Headers {
		h.Set(k, v)
	}
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json")
	}
	w.WriteHeader(*p.StatusCode)
	_, _ = w.Write(body)
	return nil
}

func truncate(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "..."
	}
	return string(b)
}
