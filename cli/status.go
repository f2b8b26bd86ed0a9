package cli

import (
	"context"
	"errors"
	"fmt"
	"github.com/aliasflow/aliasflow/shared/alias"
	"github.com/aliasflow/aliasflow/shared/approval"
	"github.com/aliasflow/aliasflow/shared/awserr"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/settings"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aliasflow/aliasflow/cli/progress"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aliasflow/aliasflow/shared/untrusted"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/spf13/cobra"
)

// FunctionStatus is what `status` reports for one function.
type FunctionStatus struct {
	Function   string               `json:"function"`
	Aliases    []AliasStatus        `json:"aliases"`
	Versions   []VersionInfo        `json:"versions"`
	Promotions []*progress.Progress `json:"promotions"`
	Drift      bool                 `json:"drift"`
	Last       *progress.Progress   `json:"lastPromotion,omitempty"`
	// LastRefused is the function's newest release.refused record in the
	// trail: when and why its last refused release request was refused.
	LastRefused *audit.Record `json:"lastRefused,omitempty"`
	// Groups are the group promotions among Promotions and Last, with
	// their members (status_group.go).
	Groups []GroupPromotion `json:"groups,omitempty"`
	// Drifted are the reconciler's alias.drifted records of aliases
	// aliasflow has not moved since, newest first (ledger OpenDrifts).
	Drifted []audit.Record `json:"drifted,omitempty"`
}

// AliasStatus is one alias: where it points, and whether that is where
// the audit trail last moved it.
type AliasStatus struct {
	Name    string             `json:"name"`
	Version string             `json:"version"`
	Routing map[string]float64 `json:"routing,omitempty"`
	// Expected is where the audit trail says aliasflow last put the alias
	// ("" when it never moved it, or the trail no longer says).
	Expected string `json:"expected,omitempty"`
	// Drift is true when the alias moved outside aliasflow: it is not
	// where aliasflow last put it, and its stamp is not aliasflow's
	// (ledger.Trail.Drifted).
	Drift bool `json:"drift"`
}

// VersionInfo is one published version.
type VersionInfo struct {
	Version      string `json:"version"`
	CodeSha256   string `json:"codeSha256"`
	Description  string `json:"description,omitempty"`
	LastModified string `json:"lastModified,omitempty"`
	// Commit is the commit the version was released from (the audit
	// trail's release.published record), "" when unknown.
	Commit string `json:"commit,omitempty"`
}

// auditWindow is how far back status and rollback read the audit trail.
const auditWindow = 90 * 24 * time.Hour

func statusCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "status [function...]",
		Short: "aliases, versions, weights, running promotions and drift",
		Long: `Status shows, per function, where each alias points and whether that is where aliasflow
last put it, the published versions with the commit each was built from, the running
promotions and the last finished one, the last refused release, and the drift the
reconciler found (alias.drifted) until aliasflow moves that alias again. Without a
function it lists every target.`,
		Args: positional(0, -1),
		RunE: func(c *cobra.Command, args []string) error { return runStatus(c.Context(), a, args) },
	}
}

func runStatus(ctx context.Context, a *app, fns []string) error {
	var err error
	for _, fn := range fns {
		if err := checkFunction(fn); err != nil {
			return err
		}
	}
	if len(fns) == 0 {
		if fns, err = a.knownFunctions(ctx); err != nil {
			return err
		}
		if len(fns) == 0 {
			return fail(ExitNotFound, fmt.Sprintf("add a target (its settings parameter under %s), or name the function: `aliasflow status <function>`", settings.Path(a.g.pipeline)),
				"no targets of pipeline %s and no promotions in %s", a.g.pipeline, a.g.stateMachine)
		}
	}
	var all []FunctionStatus
	for _, fn := range fns {
		st, err := a.functionStatus(ctx, fn)
		if err != nil {
			return err
		}
		all = append(all, *st)
	}
	where, err := a.where(ctx)
	if err != nil {
		return err
	}
	if a.g.json {
		return printJSON(a.env.Stdout, map[string]any{"account": where.Account, "region": where.Region, "endpoint": where.Endpoint, "functions": all})
	}
	endpoint := "AWS's endpoints"
	if where.Endpoint != "" {
		endpoint = "endpoint " + where.Endpoint
	}
	fmt.Fprintf(a.env.Stdout, "account %s, region %s, %s\n\n", orDash(where.Account), orDash(where.Region), endpoint)
	for i, st := range all {
		if i > 0 {
			fmt.Fprintln(a.env.Stdout)
		}
		a.printStatus(a.env.Stdout, &st)
	}
	return nil
}

// location is where the CLI's calls go: an account and region, through
// AWS's endpoints ("") or another (the sandbox).
type location struct{ Account, Region, Endpoint string }

// where names the account (sts GetCallerIdentity, which needs no
// permission), region and endpoint the CLI talks to, so that what status
// shows cannot be mistaken for another account's or the sandbox's.
func (a *app) where(ctx context.Context) (location, error) {
	if _, err := a.callerARN(ctx); err != nil {
		return location{}, err
	}
	ep := a.g.endpoint
	if ep == "" {
		ep = a.env.Getenv("AWS_ENDPOINT_URL") // the SDK's own setting
	}
	return location{Account: a.account, Region: a.regionOf(), Endpoint: ep}, nil
}

// knownFunctions lists the targets: those with settings in the pipeline's
// Parameter Store path (so a fresh install lists them before any release)
// and those with promotions, from the newest executions' names.
func (a *app) knownFunctions(ctx context.Context) ([]string, error) {
	fns, err := a.targets(ctx)
	if err != nil {
		return nil, err
	}
	execs, err := a.executions(ctx, "", "", 100)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, fn := range fns {
		seen[fn] = true
	}
	for _, e := range execs {
		if fn := functionOf(aws.ToString(e.Name)); fn != "" && !seen[fn] {
			seen[fn] = true
			fns = append(fns, fn)
		}
	}
	sort.Strings(fns)
	return fns, nil
}

// targets lists the functions with settings parameters under the
// pipeline's path (GetParametersByPath, not recursive: one level, one
// parameter per target).
func (a *app) targets(ctx context.Context) ([]string, error) {
	params, err := a.targetParameters(ctx)
	if err != nil {
		return nil, err
	}
	fns := make([]string, 0, len(params))
	for _, p := range params {
		fns = append(fns, p.function)
	}
	return fns, nil
}

// targetParameter is one target's settings parameter.
type targetParameter struct {
	function, name, value string
}

// targetParameters reads the settings parameters under the pipeline's
// path, one per target; none when the clients have no Parameter Store.
// The path is asked for without its trailing slash: that is the parameter
// ARN aliasflow-operators grants ssm:GetParametersByPath on
// (parameter/aliasflow/NAME/targets), and it names the same children.
func (a *app) targetParameters(ctx context.Context) ([]targetParameter, error) {
	c, err := a.aws(ctx)
	if err != nil || c.Settings == nil {
		return nil, err
	}
	path := settings.Path(a.g.pipeline)
	var out []targetParameter
	p := ssm.NewGetParametersByPathPaginator(c.Settings, &ssm.GetParametersByPathInput{Path: aws.String(strings.TrimSuffix(path, "/"))})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list the targets under %s: %w", path, err)
		}
		for _, prm := range page.Parameters {
			if fn := strings.TrimPrefix(aws.ToString(prm.Name), path); config.ValidateFunctionName(fn) == nil {
				out = append(out, targetParameter{function: fn, name: aws.ToString(prm.Name), value: aws.ToString(prm.Value)})
			}
		}
	}
	return out, nil
}

func (a *app) functionStatus(ctx context.Context, fn string) (*FunctionStatus, error) {
	c, err := a.aws(ctx)
	if err != nil {
		return nil, err
	}
	st := &FunctionStatus{Function: fn, Aliases: []AliasStatus{}, Versions: []VersionInfo{}, Promotions: []*progress.Progress{}}
	aliases, err := a.aliases(ctx, fn)
	if err != nil {
		return nil, err
	}
	vp := lambda.NewListVersionsByFunctionPaginator(c.Lambda, &lambda.ListVersionsByFunctionInput{FunctionName: aws.String(fn)})
	for vp.HasMorePages() {
		page, err := vp.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list versions of %s: %w", fn, err)
		}
		for _, v := range page.Versions {
			st.Versions = append(st.Versions, VersionInfo{
				Version: aws.ToString(v.Version), CodeSha256: aws.ToString(v.CodeSha256),
				Description: aws.ToString(v.Description), LastModified: aws.ToString(v.LastModified),
			})
		}
	}
	recs, err := a.readAudit(ctx, fn, a.env.Now().Add(-auditWindow))
	var notFound *Error
	if err != nil && !(errors.As(err, &notFound) && notFound.Code == ExitNotFound) {
		return nil, err
	}
	for i := range recs { // newest first
		if recs[i].Event == audit.ReleaseRefused {
			st.LastRefused = &recs[i]
			break
		}
	}
	commits := map[string]string{}
	for _, r := range recs { // newest first: the newest release of a version wins
		if r.Event == audit.ReleasePublished && r.Release != nil && r.Release.Commit != "" && commits[r.ToVersion] == "" {
			commits[r.ToVersion] = r.Release.Commit
		}
	}
	for i := range st.Versions {
		v := &st.Versions[i]
		// The version's own description (written at publish) is the
		// authority; the audit trail covers versions published before.
		if v.Commit = promotion.CommitFromDescription(v.Description); v.Commit == "" {
			v.Commit = commits[v.Version]
		}
	}
	st.Drifted = recs.OpenDrifts(fn)
	for _, al := range aliases {
		s := aliasStatus(al)
		if w, ok := recs.LastWrite(fn, s.Name); ok {
			s.Expected = describeAlias(w.State.Version, w.State.Weights)
		}
		// The alias's stamp says first whether aliasflow left it so; the
		// trail answers for an alias without one.
		_, s.Drift = recs.Drifted(fn, s.Name, alias.FromConfiguration(al))
		st.Drift = st.Drift || s.Drift
		st.Aliases = append(st.Aliases, s)
	}
	execs, err := a.executions(ctx, fn, "", 20)
	if err != nil {
		return nil, err
	}
	for _, e := range execs {
		if e.Status != sfntypes.ExecutionStatusRunning {
			continue
		}
		p, err := a.readProgress(ctx, aws.ToString(e.ExecutionArn))
		if err != nil {
			return nil, err
		}
		countApprovals(p, recs, true) // status fails when the trail is unreadable
		st.Promotions = append(st.Promotions, p)
	}
	for _, e := range execs {
		if e.Status != sfntypes.ExecutionStatusRunning {
			if st.Last, err = a.readProgress(ctx, aws.ToString(e.ExecutionArn)); err != nil {
				return nil, err
			}
			break
		}
	}
	// An operator's rollback runs as an execution of its own
	// (approval.RollbackName), which is no promotion of fn's and so not
	// listed above: the trail's record of it names it. Newer than the last
	// promotion, it is what last finished.
	if r, ok := recs.Last(audit.PromotionRolledBack); ok && approval.IsRollbackOf(fn, r.Execution) && (st.Last == nil || r.Time.After(st.Last.StopTime)) {
		if st.Last, err = a.readProgress(ctx, r.Execution); err != nil {
			return nil, err
		}
	}
	if err := a.groupPromotions(ctx, st); err != nil {
		return nil, err
	}
	return st, nil
}

func (a *app) aliases(ctx context.Context, fn string) ([]lambdatypes.AliasConfiguration, error) {
	c, err := a.aws(ctx)
	if err != nil {
		return nil, err
	}
	var out []lambdatypes.AliasConfiguration
	p := lambda.NewListAliasesPaginator(c.Lambda, &lambda.ListAliasesInput{FunctionName: aws.String(fn)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			if awserr.Code(err) == awserr.NotFound {
				return nil, a.noSuchFunction(ctx, fn, "check the function name and --region")
			}
			return nil, fmt.Errorf("list aliases of %s: %w", fn, err)
		}
		out = append(out, page.Aliases...)
	}
	sort.Slice(out, func(i, j int) bool { return aws.ToString(out[i].Name) < aws.ToString(out[j].Name) })
	return out, nil
}

func aliasStatus(al lambdatypes.AliasConfiguration) AliasStatus {
	s := AliasStatus{Name: aws.ToString(al.Name), Version: aws.ToString(al.FunctionVersion)}
	if al.RoutingConfig != nil && len(al.RoutingConfig.AdditionalVersionWeights) > 0 {
		s.Routing = al.RoutingConfig.AdditionalVersionWeights
	}
	return s
}

// describeAlias writes an alias's target as "2" or "1 + 2@10%".
// It is alias.Alias's String, without zero weights.
func describeAlias(version string, routing map[string]float64) string {
	weights := map[string]float64{}
	for v, w := range routing {
		if w > 0 {
			weights[v] = w
		}
	}
	return alias.Alias{Exists: true, Version: version, Weights: weights}.String()
}

func (a *app) printStatus(w io.Writer, st *FunctionStatus) {
	now := a.env.Now()
	fmt.Fprintf(w, "%s\n", st.Function)
	t := newTable(w, "  alias", "points to", "audit trail says", "drift")
	for _, al := range st.Aliases {
		drift := "no"
		switch {
		case al.Drift:
			drift = "YES: moved outside aliasflow"
		case al.Expected == "":
			drift = ""
		}
		t.row("  "+al.Name, describeAlias(al.Version, al.Routing), al.Expected, drift)
	}
	t.flush()
	fmt.Fprintln(w)
	t = newTable(w, "  version", "commit", "code sha256", "modified")
	for _, v := range st.Versions {
		t.row("  "+v.Version, short(v.Commit, 12), short(v.CodeSha256, 12), modified(v.LastModified))
	}
	t.flush()
	fmt.Fprintln(w)
	if len(st.Promotions) == 0 {
		fmt.Fprintf(w, "no running promotion (start one with `aliasflow release %s`)\n", st.Function)
	} else {
		t = newTable(w, "  promotion", "version", "prod weight", "where")
		for _, p := range st.Promotions {
			t.row("  "+p.Name, p.Version, alias.Percent(p.Weight), gateCountdown(p, now))
		}
		t.flush()
	}
	if st.Last != nil {
		fmt.Fprintf(w, "last finished: %s (version %s) %s, %s\n", st.Last.Name, st.Last.Version, st.Last.Gate, clock(st.Last.StopTime))
	}
	printGroups(w, st)
	if r := st.LastRefused; r != nil {
		by := ""
		if r.Actor != "" { // a refusal before the request was read has none
			by = " by " + untrusted.Show(actorName(r.Actor))
		}
		fmt.Fprintf(w, "last refused release: %s%s: %s\n", clock(r.Time), by, untrusted.Show(r.Reason))
	}
	if len(st.Drifted) > 0 {
		fmt.Fprintln(w, "drift found by the reconciler (listed until aliasflow moves the alias again):")
		t = newTable(w, "  found", "alias", "moved")
		for _, r := range st.Drifted {
			from, to := r.FromVersion, r.ToVersion
			if len(r.Changes) == 1 { // the routing in full, as the reconciler found it
				from, to = r.Changes[0].From, r.Changes[0].To
			}
			t.row("  "+clock(r.Time), r.Alias, orDash(from)+" → "+orDash(to))
		}
		t.flush()
	}
	if st.Drift {
		fmt.Fprintf(w, "drift: an alias is not where aliasflow last put it; see `aliasflow history %s`, then fix it with a release or `aliasflow rollback %s`\n", st.Function, st.Function)
	}
}

// gateCountdown is where a promotion stands with the countdown to its next
// step in place of the gate's own timestamp.
func gateCountdown(p *progress.Progress, now time.Time) string {
	// The gate can quote an approver's name; shown escaped (untrusted.Show
	// leaves printable text as it is, so this is no second escaping).
	where := untrusted.Show(p.Gate)
	if p.NextAt.IsZero() || !p.Running() {
		return where
	}
	if i := strings.Index(where, " until "); i > 0 {
		where = where[:i]
	}
	if i := strings.Index(where, " (expires "); i > 0 {
		where = where[:i]
	}
	left := p.NextAt.Sub(now).Round(time.Second)
	if left < 0 {
		left = 0
	}
	return where + " (" + left.String() + " left)"
}

// short cuts s to n characters with an ellipsis; --json has it in full.
func short(s string, n int) string { return cut(s, n+1) }

// modified formats Lambda's LastModified (ISO 8601 with milliseconds and a
// numeric offset) like the other times of the tables.
func modified(s string) string {
	if t, err := time.Parse("2006-01-02T15:04:05.000-0700", s); err == nil {
		return clock(t)
	}
	return s
}

// versionLess orders version numbers numerically, $LATEST last.
func versionLess(a, b string) bool {
	x, errA := strconv.Atoi(a)
	y, errB := strconv.Atoi(b)
	if errA != nil || errB != nil {
		return errB != nil && errA == nil
	}
	return x < y
}
