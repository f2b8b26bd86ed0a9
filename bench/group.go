package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"github.com/aliasflow/aliasflow/shared/approval"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aliasflow/aliasflow/sandbox"
	"github.com/aliasflow/aliasflow/sandbox/core"
	lambdasvc "github.com/aliasflow/aliasflow/sandbox/lambda"
	"github.com/aliasflow/aliasflow/sandbox/local"
	snssvc "github.com/aliasflow/aliasflow/sandbox/sns"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aliasflow/aliasflow/shared/settings"
)

// The group section (issue 20, item 4): a release of n functions as one
// group costs fewer state transitions and AWS calls than n promotions of
// the same functions one by one. Both run the same two-step canary (10 %
// baked 1 s, then 100 %) in one world, started as the release Lambda
// starts them (StartExecution with the input it would build) and approved
// through the e-mailed link, so only the promotions themselves are
// counted.

// groupRun is one way of promoting the n functions, measured.
type groupRun struct {
	what        string
	executions  int
	transitions int
	calls       []sandbox.Call
	err         error
}

// groupFigures runs n separate promotions (each function v1 → v2), then one
// group promotion of the same n functions (v2 → v3), and reports both.
func groupFigures(r *report, root string, n int) {
	const title = "12. Group release"
	binDir := os.Getenv("ALIASFLOW_BIN_DIR")
	if binDir == "" {
		binDir = filepath.Join(root, "dist", "local")
	}
	hello, err := os.ReadFile(filepath.Join(binDir, "hello", "bootstrap"))
	if err != nil {
		r.section(title, "not measured: "+err.Error()+" (run `make build-local`)")
		r.missed = append(r.missed, "group release: not measured")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	fmt.Printf("\n… %d separate promotions, then one group of %d\n", n, n)
	separate, group := runGroup(ctx, binDir, hello, n)
	groupSection(r, n, separate, group)
}

// groupTarget is a group member's settings: hello's canary of the
// promotions section, its invoke smoke check only (the HTTP check is
// hello's stage), judged by one probe per version and check instead of
// the log streams (the pipeline reads the log groups of the targets it was
// deployed with only).
func groupTarget(endpoint, fn string) config.Target {
	t := *canary(endpoint)
	t.Function, t.CodeBuildProjects = fn, nil
	t.SmokeChecks = t.SmokeChecks[:1]
	t.Health.FreshSignal, t.Health.LogRuntime, t.Health.Probes = "", "", 1
	t.ApplyDefaults()
	return t
}

func groupFunction(i int) string { return fmt.Sprintf("grp%02d", i+1) }

func runGroup(ctx context.Context, binDir string, hello []byte, n int) (separate, group *groupRun) {
	separate, group = &groupRun{what: fmt.Sprintf("%d separate promotions", n)}, &groupRun{what: fmt.Sprintf("one group of %d", n)}
	b, err := startWorld(ctx, binDir, hello, canary)
	if err != nil {
		separate.err, group.err = err, err
		return separate, group
	}
	defer b.w.Close()
	targets := make([]config.Target, n)
	for i := range targets {
		targets[i] = groupTarget(b.w.Endpoint(), groupFunction(i))
	}
	if err := b.setupGroup(ctx, targets); err != nil {
		separate.err, group.err = err, err
		return separate, group
	}
	// n promotions, one after the other.
	b.sb.ResetCalls()
	for _, t := range targets {
		m, err := b.release(ctx, t, "2")
		if err != nil {
			separate.err = err
			break
		}
		in := promotion.Input{Function: m.Function, Version: m.Version, PreviousStgVersion: m.PreviousStgVersion, Release: m.Release,
			Target: m.Target, Steps: promotion.Plan(m.Target.Strategy)}
		if err := b.runExecution(ctx, separate, promotion.ExecutionName(m.Function, m.Version, m.Release.CodeSha256), in); err != nil {
			separate.err = err
			break
		}
	}
	separate.calls = pipelineCalls(b.sb.Calls())
	// The same functions as one group.
	b.sb.ResetCalls()
	in := promotion.Input{Group: "grp", Steps: promotion.Plan(targets[0].Strategy)}
	var lines []string
	for _, t := range targets {
		m, err := b.release(ctx, t, "3")
		if err != nil {
			group.err = err
			return separate, group
		}
		in.Members = append(in.Members, m)
		lines = append(lines, m.Function+"\t"+m.Version+"\t"+m.Release.CodeSha256+"\n")
	}
	first := in.Members[0]
	in.Function, in.Version, in.PreviousStgVersion, in.Release, in.Target = first.Function, first.Version, first.PreviousStgVersion, first.Release, first.Target
	// The group's execution name as identity.md has it: the first 4 bytes
	// of sha256 over the members' lines, sorted by function.
	sort.Strings(lines)
	sum := sha256.Sum256([]byte(strings.Join(lines, "")))
	if err := b.runExecution(ctx, group, in.Group+"-g"+hex.EncodeToString(sum[:4]), in); err != nil {
		group.err = err
	}
	group.calls = pipelineCalls(b.sb.Calls())
	return separate, group
}

// pipelineCalls are the calls a promotion's own Lambdas made (the release
// Lambda is not involved: the benchmark starts the executions).
func pipelineCalls(calls []sandbox.Call) []sandbox.Call {
	return slices.DeleteFunc(calls, func(c sandbox.Call) bool { return !slices.Contains(pipeline, c.Caller) })
}

// setupGroup creates the functions (version 1 on stg and prod, tagged for
// the pipeline) and writes their settings.
func (b *world) setupGroup(ctx context.Context, targets []config.Target) error {
	lam := b.sb.Lambda()
	timeout := 10
	for _, t := range targets {
		zip, err := b.code(t.Function + " v1")
		if err != nil {
			return err
		}
		if _, err := lam.CreateFunction(lambdasvc.CreateFunctionInput{
			FunctionName: t.Function, Runtime: "provided.al2023", Handler: "bootstrap",
			Role: "arn:aws:iam::" + core.Account + ":role/aliasflow-bench", Code: lambdasvc.FunctionCode{ZipFile: zip}, Timeout: &timeout,
			Tags: map[string]string{local.PipelineTag: local.PipelineName},
		}); err != nil {
			return fmt.Errorf("create %s: %w", t.Function, err)
		}
		if err := b.settle(ctx, t.Function); err != nil {
			return err
		}
		v, err := lam.PublishVersion(t.Function, lambdasvc.PublishVersionInput{Description: "v1"})
		if err != nil {
			return fmt.Errorf("publish %s: %w", t.Function, err)
		}
		for _, alias := range []string{promotion.AliasStg, promotion.AliasProd} {
			if _, err := lam.CreateAlias(t.Function, lambdasvc.CreateAliasInput{Name: alias, FunctionVersion: v.Version}); err != nil {
				return fmt.Errorf("alias %s:%s: %w", t.Function, alias, err)
			}
		}
		doc, err := settings.Encode(t)
		if err != nil {
			return err
		}
		if _, err := b.sb.SSM().PutParameter(settings.ParameterName(settings.DefaultPipeline, t.Function), doc, true); err != nil {
			return fmt.Errorf("settings of %s: %w", t.Function, err)
		}
	}
	return nil
}

// release does what the release Lambda does before it starts a promotion:
// new code published as version, stg moved to it. Its calls are the
// benchmark's own, not counted.
func (b *world) release(ctx context.Context, t config.Target, version string) (promotion.Member, error) {
	sha, err := b.deploy(ctx, t.Function, "v"+version)
	if err != nil {
		return promotion.Member{}, err
	}
	lam := b.sb.Lambda()
	v, err := lam.PublishVersion(t.Function, lambdasvc.PublishVersionInput{Description: "v" + version})
	if err != nil {
		return promotion.Member{}, fmt.Errorf("publish %s: %w", t.Function, err)
	}
	if v.Version != version {
		return promotion.Member{}, fmt.Errorf("published version %s of %s, want %s", v.Version, t.Function, version)
	}
	if _, err := lam.UpdateAlias(t.Function, promotion.AliasStg, lambdasvc.UpdateAliasInput{FunctionVersion: v.Version}); err != nil {
		return promotion.Member{}, fmt.Errorf("stg of %s: %w", t.Function, err)
	}
	n, err := strconv.Atoi(version)
	if err != nil {
		return promotion.Member{}, err
	}
	return promotion.Member{Function: t.Function, Version: version, PreviousStgVersion: strconv.Itoa(n - 1), Target: t,
		Release: promotion.Release{CodeSha256: sha, Commit: "9a0b1c2", Source: "aliasflow", RequestedBy: "developer@example.com"}}, nil
}

// linkPattern finds the approval link in an e-mail.
var linkPattern = regexp.MustCompile(`https?://\S+\?t=[A-Za-z0-9._~%-]+`)

// runExecution starts the promotion as the release Lambda does, approves
// it through the e-mailed link and waits for it to succeed; it adds the
// execution's transitions to run.
func (b *world) runExecution(ctx context.Context, run *groupRun, name string, in promotion.Input) error {
	raw, err := json.Marshal(in)
	if err != nil {
		return err
	}
	mailFrom := len(b.sb.SNS().Outbox())
	arn, err := b.sb.States().StartExecution(ctx, b.w.StateMachineARN(), name, string(raw))
	if err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	subject := approval.Subject(in) // a group's names the group
	m, _, err := b.sb.SNS().Wait(ctx, mailFrom, func(m snssvc.Message) bool {
		return m.Endpoint == local.DefaultApprover && m.Subject == subject
	})
	if err != nil {
		return fmt.Errorf("%s: no approval e-mail: %w", name, err)
	}
	if err := approveByLink(ctx, linkPattern.FindString(m.Message)); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	status := ""
	if err := poll(ctx, 20*time.Millisecond, func() (bool, error) {
		s, err := b.sb.States().ExecutionStatus(arn)
		status = s
		return err == nil && s != "RUNNING", err
	}); err != nil {
		return fmt.Errorf("%s: wait for the end: %w", name, err)
	}
	if status != "SUCCEEDED" {
		return fmt.Errorf("%s ended %s:\n%s", name, status, b.log.tail(20))
	}
	n, err := b.sb.States().Transitions(arn)
	if err != nil {
		return err
	}
	run.executions++
	run.transitions += n
	return nil
}

// approveByLink posts the approval page's form, as a browser does.
func approveByLink(ctx context.Context, link string) error {
	u, err := url.Parse(link)
	if err != nil || link == "" {
		return fmt.Errorf("approval link %q: %v", link, err)
	}
	form := url.Values{"t": {u.Query().Get("t")}, "decision": {"approve"}, "comment": {"make bench"}}
	u.RawQuery = ""
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("approve: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("approve: status %d: %s", resp.StatusCode, body)
	}
	return nil
}

// groupSection reports both runs and holds the group to its budget: fewer
// transitions and fewer AWS calls than the separate promotions.
func groupSection(r *report, n int, separate, group *groupRun) {
	const title = "12. Group release"
	var b strings.Builder
	fmt.Fprintf(&b, "%d functions, each on a two-step canary (10%% baked 1 s, then 100%%; judged by one probe of each version per check), promoted first one by one (v1 → v2), then as one group (v2 → v3) in the same world. "+
		"Each execution is started as the release Lambda starts it and approved through the e-mailed link; the counts are the executions' state transitions and the AWS calls of the smoke, approval and shift Lambdas. "+
		"The group smoke-tests every member against its own stg, in one task. Budget (issue 20): the group costs fewer transitions and fewer calls.\n\n", n)
	for _, run := range []*groupRun{separate, group} {
		if run.err != nil {
			r.section(title, b.String()+"not measured: "+run.err.Error())
			r.missed = append(r.missed, "group release: not measured")
			return
		}
	}
	b.WriteString("| | executions | state transitions | AWS calls | of which the shift's |\n|---|---:|---:|---:|---:|\n")
	shift := func(calls []sandbox.Call) int {
		return len(slices.DeleteFunc(slices.Clone(calls), func(c sandbox.Call) bool { return c.Caller != local.ShiftFunction }))
	}
	for _, run := range []*groupRun{separate, group} {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d |\n", run.what, run.executions, run.transitions, len(run.calls), shift(run.calls))
	}
	b.WriteString("\nCalls by operation (separate → group):\n\n")
	sc, gc := opCounts(separate.calls), opCounts(group.calls)
	keys := map[string]bool{}
	for k := range sc {
		keys[k] = true
	}
	for k := range gc {
		keys[k] = true
	}
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range keys {
			if !yield(k) {
				return
			}
		}
	}) {
		caller, op, _ := strings.Cut(k, "\x00")
		fmt.Fprintf(&b, "- %s %s: %d → %d\n", caller, op, sc[k], gc[k])
	}
	ok := group.transitions < separate.transitions && len(group.calls) < len(separate.calls)
	fmt.Fprintf(&b, "\nBudget: %s\n", r.budget("group release", ok, fmt.Sprintf("group %d transitions and %d calls; separate %d and %d",
		group.transitions, len(group.calls), separate.transitions, len(separate.calls))))
	r.section(title, b.String())
}
