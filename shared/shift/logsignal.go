package shift

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/awserr"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// Logs is the part of the CloudWatch Logs API the fresh signal calls.
type Logs interface {
	FilterLogEvents(ctx context.Context, in *cloudwatchlogs.FilterLogEventsInput, opts ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error)
}

// The fresh signal: the function's log streams, read the way AWS writes them.
//
// Lambda writes START, END and REPORT lines (JSON log format: platform.*
// records) for every invocation to the function's log group, one stream per
// execution environment. The default group is /aws/lambda/<function> with
// streams YYYY/MM/DD/[<version>]<id>; a custom group (LoggingConfig.LogGroup)
// has streams YYYY/MM/DD/<function>[<version>][<id>] ("Configuring
// CloudWatch log groups", Lambda developer guide,
// https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-loggroups.html).
// The stream name therefore says which version served each line, whichever
// alias routed it, seconds after it ends — where the AWS/Lambda metrics
// are minutes late.
//
// A REPORT line counts one invocation; one with "Status: error"/"Status:
// timeout" (JSON: a status other than "success") is a crash, timeout or
// init failure and counts one error. A handled error — a Go handler's
// returned error, a Node.js handler's throw — is NOT on the REPORT line:
// the runtime posts it to the Runtime API's /invocation/{id}/error and the
// platform reports the invocation done ("status": "success"). Only the
// runtime's own line shows it (runtimeErrorLine), so the source sees
// handled errors only for a runtime whose line it knows
// (health.logRuntime), and says so in its evidence otherwise.

// logFilter selects the lines counted: REPORT lines of both formats and
// the runtimes' error documents (a CloudWatch Logs filter pattern of OR
// terms; each is a case-sensitive substring).
const logFilter = `?"REPORT RequestId" ?"platform.report" ?"errorMessage"`

// logSettle is how long lines may take to reach CloudWatch Logs after
// they are written. Each read goes up to now, but only the lines older
// than logSettle are counted for good; the last seconds are counted
// provisionally and read again by the next check, so a line that arrives
// late is still counted, and none twice.
const logSettle = 10 * time.Second

// logPagesPerCheck bounds the FilterLogEvents pages one check reads per
// log group (the API allows 5 requests a second per account, and the shift
// Lambda has 60 s). A busy group not read to the end in one check is
// continued by the next from the saved token; until then the source's data
// is complete only through where it got, and the step waits.
const logPagesPerCheck = 4

var (
	reportStatusRE   = regexp.MustCompile(`\tStatus: ([a-z]+)`)
	reportDurationRE = regexp.MustCompile(`\tDuration: ([0-9.]+) ms`)
	// streamRE reads the function (custom groups only) and the version
	// out of a stream name.
	streamRE = regexp.MustCompile(`^\d{4}/\d{2}/\d{2}/([A-Za-z0-9_-]*)\[(\$LATEST|[0-9]+)\]`)
	// goLogPrefixRE is the standard log package's default prefix
	// (log.LstdFlags: "2006/01/02 15:04:05 "), with microseconds when a
	// handler set log.Lmicroseconds.
	goLogPrefixRE = regexp.MustCompile(`^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}(\.\d+)? `)
)

// logProgress is the logs source's progress through one step, carried in
// promotion.Shift.Logs from one check to the next.
type logProgress struct {
	// Step is the step counted; another step starts afresh.
	Step int `json:"step"`
	// Since is the step's start: lines before it are never read.
	Since time.Time `json:"since"`
	// Groups are the log groups read, one unless the stable and the new
	// version log to different groups.
	Groups []groupProgress `json:"groups"`
	// Settled is what was counted for good: the lines of every group
	// before its Through.
	Settled versionCounts `json:"settled"`
	// Sees says which runtime's handled-error line is read, "" when none
	// (the source is blind to handled errors; Blind says why).
	Sees  string `json:"sees,omitempty"`
	Blind string `json:"blind,omitempty"`
}

// versionCounts are the counts of the new and the stable version.
type versionCounts struct {
	New    logCounts `json:"new"`
	Stable logCounts `json:"stable"`
}

func (v *versionCounts) add(o versionCounts) {
	v.New.add(o.New)
	v.Stable.add(o.Stable)
}

// groupProgress is how far one log group has been read.
type groupProgress struct {
	Name string `json:"name"`
	// Through: every line stamped before it has been counted for good
	// (Unix ms); the next read starts there.
	Through int64 `json:"through"`
	// ReadTo is where the last complete read ended (Unix ms), and Recent
	// what it counted from Through on, provisionally: dropped when the
	// next read starts, which reads those lines again.
	ReadTo int64         `json:"readTo,omitempty"`
	Recent versionCounts `json:"recent"`
	// A read left unfinished by logPagesPerCheck continues at the next
	// check from Token, over the same window [Through, Until), lines
	// before Settle counted for good, the rest into Next.
	Until  int64         `json:"until,omitempty"`
	Settle int64         `json:"settle,omitempty"`
	Token  string        `json:"token,omitempty"`
	Next   versionCounts `json:"next"`
}

// logCounts are one version's counts.
type logCounts struct {
	Invocations int `json:"invocations"`
	// Crashes are REPORT lines with a failed status; ErrorLines the
	// runtime's handled-error lines. Errors are their sum, at most the
	// invocations.
	Crashes    int `json:"crashes"`
	ErrorLines int `json:"errorLines"`
	// Durations is a histogram of REPORT durations: bucket i holds
	// durations in (1.05^(i-1), 1.05^i] ms, so a p99 read from it is at
	// most 5 % high.
	Durations map[int]int `json:"durations,omitempty"`
}

func (c *logCounts) add(o logCounts) {
	c.Invocations += o.Invocations
	c.Crashes += o.Crashes
	c.ErrorLines += o.ErrorLines
	for k, n := range o.Durations {
		if c.Durations == nil {
			c.Durations = map[int]int{}
		}
		c.Durations[k] += n
	}
}

func (c logCounts) errors() int { return min(c.Invocations, c.Crashes+c.ErrorLines) }

const durationBase = 1.05

func (c *logCounts) addDuration(ms float64) {
	if c.Durations == nil {
		c.Durations = map[int]int{}
	}
	c.Durations[int(math.Ceil(math.Log(max(ms, 1))/math.Log(durationBase)))]++
}

// p99 is the 99th percentile (nearest rank) of the durations, 0 when none.
func (c logCounts) p99() float64 {
	total := 0
	for _, n := range c.Durations {
		total += n
	}
	if total == 0 {
		return 0
	}
	rank := int(math.Ceil(0.99 * float64(total)))
	keys := make([]int, 0, len(c.Durations))
	for k := range c.Durations {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	seen := 0
	for _, k := range keys {
		if seen += c.Durations[k]; seen >= rank {
			return math.Pow(durationBase, float64(k))
		}
	}
	return 0
}

// logEvidence counts the invocations and errors of the new and the stable
// version in their log streams since the step began, reading only what
// arrived since the last check (t.p.Shift.Logs). It returns the evidence
// and the progress to carry to the next check.
func (t *task) logEvidence(ctx context.Context, stepStart, now time.Time) (audit.Evidence, *logProgress, error) {
	ev := audit.Evidence{Source: "logs", From: stepStart, NewVersion: t.p.Version, StableVersion: t.p.Shift.StableVersion}
	if t.logs == nil {
		return ev, nil, fmt.Errorf("health.freshSignal is %q but the shift task has no CloudWatch Logs client", config.FreshSignalLogs)
	}
	pr, err := t.logStart(ctx, stepStart)
	if err != nil {
		return ev, nil, err
	}
	ev.From = pr.Since
	fresh := int64(math.MaxInt64)
	for i := range pr.Groups {
		g := &pr.Groups[i]
		if err := t.readGroup(ctx, g, pr, now.UnixMilli()); err != nil {
			return ev, nil, err
		}
		fresh = min(fresh, max(g.ReadTo, g.Through))
	}
	var total versionCounts // a copy: add writes into its maps
	total.add(pr.Settled)
	for _, g := range pr.Groups {
		// A read left unfinished has counted part of its window into Next.
		total.add(g.Recent)
		total.add(g.Next)
	}
	ev.FreshThrough = time.UnixMilli(fresh).UTC()
	if ev.FreshThrough.Before(pr.Since) {
		ev.FreshThrough = pr.Since
	}
	ev.To = ev.FreshThrough
	ev.NewInvocations, ev.NewErrors = float64(total.New.Invocations), float64(total.New.errors())
	ev.StableInvocations, ev.StableErrors = float64(total.Stable.Invocations), float64(total.Stable.errors())
	if t.p.Target.Health.MaxP99LatencyRatio > 0 {
		ev.NewP99Ms, ev.StableP99Ms = total.New.p99(), total.Stable.p99()
	}
	ev.SeesCrashes, ev.SeesLatency = true, true
	ev.SeesHandledErrors = pr.Sees != ""
	ev.Blind = pr.Blind
	return ev, pr, nil
}

// logStart returns the progress carried from the last check of this step,
// or a fresh one: the versions' log groups and whether their runtime's
// error line is known, from the new and the stable version's configuration
// (GetFunctionConfiguration: Runtime, LoggingConfig) — as begin read it
// (seedLogs), or read now.
func (t *task) logStart(ctx context.Context, stepStart time.Time) (*logProgress, error) {
	s := t.p.Shift
	if s.Logs != "" {
		var pr logProgress
		if err := json.Unmarshal([]byte(s.Logs), &pr); err == nil && pr.Step == s.Step && len(pr.Groups) > 0 {
			if pr.Since.IsZero() {
				// Seeded: the groups are known, nothing read yet.
				pr.Since = stepStart.UTC()
				for i := range pr.Groups {
					pr.Groups[i] = groupProgress{Name: pr.Groups[i].Name, Through: stepStart.UnixMilli()}
				}
			}
			return &pr, nil
		}
	}
	var cfgs []*lambda.GetFunctionConfigurationOutput
	for _, v := range []string{t.p.Version, s.StableVersion} {
		c, err := t.lambda.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(t.p.Function), Qualifier: aws.String(v)})
		if err != nil {
			return nil, fmt.Errorf("read the logging configuration of version %s of %s: %w", v, t.p.Function, err)
		}
		cfgs = append(cfgs, c)
	}
	pr := t.logsOf(s.Step, cfgs[0], cfgs[1])
	pr.Since = stepStart.UTC()
	for i := range pr.Groups {
		pr.Groups[i].Through = stepStart.UnixMilli()
	}
	return pr, nil
}

// logsOf is a step's log progress before anything is read: the log groups
// of the new and the stable version (from their configurations), and
// whose handled-error line they show.
func (t *task) logsOf(step int, newCfg, stableCfg *lambda.GetFunctionConfigurationOutput) *logProgress {
	pr := &logProgress{Step: step}
	for _, c := range []*lambda.GetFunctionConfigurationOutput{newCfg, stableCfg} {
		group := "/aws/lambda/" + t.p.Function
		if lc := c.LoggingConfig; lc != nil && aws.ToString(lc.LogGroup) != "" {
			group = aws.ToString(lc.LogGroup)
		}
		if !slices.ContainsFunc(pr.Groups, func(g groupProgress) bool { return g.Name == group }) {
			pr.Groups = append(pr.Groups, groupProgress{Name: group})
		}
	}
	pr.Sees, pr.Blind = seesHandledErrors(t.p.Target.Health.LogRuntime, t.p.Version, newCfg)
	return pr
}

// seedLogs is the first step's log progress as begin learned it from the
// versions' configurations (published versions' logging settings do not
// change), so the checks need not read them again; "" when the target
// does not read logs.
func (t *task) seedLogs(newCfg, stableCfg *lambda.GetFunctionConfigurationOutput) string {
	if t.health().FreshSignal != config.FreshSignalLogs {
		return ""
	}
	return encodeSeed(t.logsOf(0, newCfg, stableCfg))
}

// nextStepLogs is the seed of step's log progress from the last step's
// (doc): the same groups and runtime, nothing read; "" when doc holds none.
func nextStepLogs(doc string, step int) string {
	var pr logProgress
	if doc == "" || json.Unmarshal([]byte(doc), &pr) != nil || len(pr.Groups) == 0 {
		return ""
	}
	next := &logProgress{Step: step, Sees: pr.Sees, Blind: pr.Blind}
	for _, g := range pr.Groups {
		next.Groups = append(next.Groups, groupProgress{Name: g.Name})
	}
	return encodeSeed(next)
}

func encodeSeed(pr *logProgress) string {
	b, err := json.Marshal(pr)
	if err != nil {
		return "" // the checks read the configurations themselves
	}
	return string(b)
}

// seesHandledErrors says whose handled-error line the logs of a version
// with configuration c show, or why none: the target names the runtime
// (health.logRuntime; a provided.* runtime runs any language, so it is
// not guessed), and the version's Runtime and LoggingConfig must agree.
func seesHandledErrors(runtime, version string, c *lambda.GetFunctionConfigurationOutput) (sees, blind string) {
	rt := string(c.Runtime) // "" for a container image
	lc := c.LoggingConfig
	if lc == nil {
		lc = &lambdatypes.LoggingConfig{}
	}
	switch {
	case runtime == "":
		return "", "health.logRuntime is not set, so its runtime's handled-error lines are not read (only crashes and timeouts are on the REPORT line)"
	case lc.LogFormat == lambdatypes.LogFormatJson && lc.SystemLogLevel == lambdatypes.SystemLogLevelWarn:
		return "", fmt.Sprintf("version %s's SystemLogLevel WARN drops the platform.report records", version)
	case runtime == config.LogRuntimeGo && !(rt == "" || strings.HasPrefix(rt, "provided") || rt == "go1.x"):
		return "", fmt.Sprintf("health.logRuntime is %s but version %s runs %s", runtime, version, rt)
	case runtime == config.LogRuntimeNode && !(rt == "" || strings.HasPrefix(rt, "nodejs")):
		return "", fmt.Sprintf("health.logRuntime is %s but version %s runs %s", runtime, version, rt)
	case runtime == config.LogRuntimeNode && lc.LogFormat == lambdatypes.LogFormatJson && lc.ApplicationLogLevel == lambdatypes.ApplicationLogLevelFatal:
		return "", fmt.Sprintf("version %s's ApplicationLogLevel FATAL drops the runtime's ERROR line", version)
	}
	return runtime, ""
}

// readGroup reads one log group from where the last check stopped up to
// until (Unix ms), at most logPagesPerCheck pages, counting into pr the
// lines older than logSettle and into the group's Recent the rest.
func (t *task) readGroup(ctx context.Context, g *groupProgress, pr *logProgress, until int64) error {
	if g.Token == "" {
		if until <= g.Through {
			return nil
		}
		// The last read's provisional lines are read again now.
		g.Until, g.Settle, g.Next, g.Recent = until, max(g.Through, until-logSettle.Milliseconds()), versionCounts{}, versionCounts{}
	}
	in := &cloudwatchlogs.FilterLogEventsInput{
		LogGroupName:  aws.String(g.Name),
		FilterPattern: aws.String(logFilter),
		StartTime:     aws.Int64(g.Through),
		// EndTime is inclusive; Until is the first millisecond not read.
		EndTime: aws.Int64(g.Until - 1),
	}
	if g.Token != "" {
		in.NextToken = aws.String(g.Token)
	}
	custom := g.Name != "/aws/lambda/"+t.p.Function
	for range logPagesPerCheck {
		page, err := t.logs.FilterLogEvents(ctx, in)
		switch {
		case awserr.Code(err) == awserr.NotFound && g.Token == "":
			// Lambda creates a function's log group when the function
			// first logs ("Sending Lambda function logs to CloudWatch
			// Logs", Lambda developer guide): no group yet is no line
			// yet — nothing to count, not a reason to roll back. The
			// read is taken as done, its last seconds read again later.
			t.log.InfoContext(ctx, "log group does not exist (yet): no lines to count", "group", g.Name)
			page, err = &cloudwatchlogs.FilterLogEventsOutput{}, nil
		case err != nil:
			return fmt.Errorf("read the log streams of versions %s and %s in %s: %w", t.p.Version, t.p.Shift.StableVersion, g.Name, err)
		}
		for _, e := range page.Events {
			m := streamRE.FindStringSubmatch(aws.ToString(e.LogStreamName))
			if m == nil || (custom && m[1] != t.p.Function) || (!custom && m[1] != "") {
				continue
			}
			into := &pr.Settled
			if aws.ToInt64(e.Timestamp) >= g.Settle {
				into = &g.Next
			}
			var c *logCounts
			switch m[2] {
			case t.p.Version:
				c = &into.New
			case t.p.Shift.StableVersion:
				c = &into.Stable
			default:
				continue
			}
			line := aws.ToString(e.Message)
			if ok, failed, ms := parseReport(line); ok {
				c.Invocations++
				if failed {
					c.Crashes++
				}
				c.addDuration(ms)
			} else if pr.Sees != "" && runtimeErrorLine(line) {
				c.ErrorLines++
			}
		}
		if aws.ToString(page.NextToken) == "" {
			g.Through, g.ReadTo, g.Recent = g.Settle, g.Until, g.Next
			g.Until, g.Settle, g.Token, g.Next = 0, 0, "", versionCounts{}
			return nil
		}
		in.NextToken = page.NextToken
		g.Token = aws.ToString(page.NextToken)
	}
	return nil // continued at the next check
}

// parseReport reads one REPORT line, text or JSON: whether it is one, whether
// the invocation failed, and its duration in milliseconds.
func parseReport(line string) (ok, failed bool, ms float64) {
	if strings.HasPrefix(line, "REPORT RequestId:") {
		if m := reportDurationRE.FindStringSubmatch(line); m != nil {
			ms, _ = strconv.ParseFloat(m[1], 64)
		}
		st := reportStatusRE.FindStringSubmatch(line)
		return true, st != nil && st[1] != "success", ms
	}
	if !strings.HasPrefix(line, "{") {
		return false, false, 0
	}
	var rec struct {
		Type   string `json:"type"`
		Record struct {
			Status  string `json:"status"`
			Metrics struct {
				DurationMs float64 `json:"durationMs"`
			} `json:"metrics"`
		} `json:"record"`
	}
	if json.Unmarshal([]byte(line), &rec) != nil || rec.Type != "platform.report" {
		return false, false, 0
	}
	return true, rec.Record.Status != "" && rec.Record.Status != "success", rec.Record.Metrics.DurationMs
}

// errorDoc is the error document the runtimes post and log.
type errorDoc struct {
	ErrorMessage *string `json:"errorMessage"`
	ErrorType    *string `json:"errorType"`
}

func (d errorDoc) ok() bool { return d.ErrorMessage != nil && d.ErrorType != nil }

// runtimeErrorLine reports whether line is a runtime's handled-error line:
//
//   - aws-lambda-go (v1.55.1 lambda/invoke_loop.go, reportFailure:
//     log.Printf("%s", errorPayload) to stderr) —
//     `2026/12/07 15:41:33 {"errorMessage":"boom","errorType":"errorString"}`,
//     with "stackTrace" after a panic; without the date when the handler
//     cleared the log flags;
//   - Node.js, text format (aws-lambda-ric 4.0.2, LifecycleManager.fail →
//     structuredConsole.logError("Invoke Error", err) → console.error(msg,
//     "\t"+JSON)) — `<ISO time>\t<request id>\tERROR\tInvoke Error \t{"errorType":…,"errorMessage":…,…}`;
//   - Node.js, JSON format (jsonErrorLogger: console.error(err)) —
//     `{"timestamp":…,"level":"ERROR","requestId":…,"message":{"errorType":…,"errorMessage":…,"stackTrace":[…]}}`.
//     A handler's own console.error(err) writes the same record and is
//     counted too: at worst a false alarm, never a miss.
func runtimeErrorLine(line string) bool {
	if f := strings.Split(line, "\t"); len(f) >= 5 && f[2] == "ERROR" && strings.HasPrefix(f[3], "Invoke Error") {
		var d errorDoc
		return json.Unmarshal([]byte(strings.Join(f[4:], "\t")), &d) == nil && d.ok()
	}
	body := goLogPrefixRE.ReplaceAllString(line, "")
	if !strings.HasPrefix(body, "{") {
		return false
	}
	var rec struct {
		errorDoc
		Level   string          `json:"level"`
		Message json.RawMessage `json:"message"`
	}
	if json.Unmarshal([]byte(body), &rec) != nil {
		return false
	}
	if rec.ok() {
		return true // aws-lambda-go's document
	}
	var s string // a plain line put in a JSON record's message
	if json.Unmarshal(rec.Message, &s) == nil {
		return s != line && runtimeErrorLine(s)
	}
	var d errorDoc
	return rec.Level == "ERROR" && json.Unmarshal(rec.Message, &d) == nil && d.ok() // Node.js, JSON format
}
