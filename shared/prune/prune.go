// Package prune deletes a target's old published versions, safely: Lambda's
// code storage is a Regional quota (75 GB by default, "Lambda quotas"), and
// every published version holds its deployment package until deleted. A
// version is deleted only when nothing could still need it: no alias points
// or routes to it, no running promotion or pending approval names it, no
// rollback could return to it, and it is not among the newest the target's
// policy keeps (config.Prune). The facts are read fresh before every
// deletion pass, and Lambda itself refuses to delete a version an alias
// references, so an alias moved meanwhile is never broken.
//
// `aliasflow prune` and the ledger's reconciler call the same Pruner.
package prune

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/aliasflow/aliasflow/shared/alias"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/awserr"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/ledger"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// Version is one published version of a function.
type Version struct {
	Number   string `json:"version"`
	CodeSize int64  `json:"codeSize"`
}

// Alias is an alias as pruning sees it: the version it points at and the
// versions its weighted routing sends traffic to.
type Alias struct {
	Name    string
	Version string
	Routes  []string
}

// Facts is what deciding needs to know of one function.
type Facts struct {
	Function string
	// Versions are the published versions ($LATEST is never one).
	Versions []Version
	Aliases  []Alias
	// InFlight are the versions a running promotion or pending approval
	// names, each with why.
	InFlight map[string]string
	// Rollback are the versions a rollback could return to, with why.
	Rollback map[string]string
}

// Decision is what happens to one version, and why it is kept.
type Decision struct {
	Version Version  `json:"version"`
	Delete  bool     `json:"delete"`
	Kept    []string `json:"kept,omitempty"`
}

// Plan is the decisions for one function, oldest version first.
type Plan struct {
	Function  string     `json:"function"`
	KeepLast  int        `json:"keepLast"`
	Decisions []Decision `json:"decisions"`
	// Freed is the code storage the deletions free, in bytes.
	Freed int64 `json:"freed"`
}

// Deletions are the versions the plan deletes.
func (p Plan) Deletions() []Version {
	var out []Version
	for _, d := range p.Decisions {
		if d.Delete {
			out = append(out, d.Version)
		}
	}
	return out
}

// Decide applies policy to facts: a version is deleted only when no reason
// to keep it holds.
func Decide(f Facts, policy config.Prune) Plan {
	vs := slices.Clone(f.Versions)
	slices.SortFunc(vs, func(a, b Version) int { return number(a.Number) - number(b.Number) })
	reasons := map[string][]string{}
	add := func(v, why string) { reasons[v] = append(reasons[v], why) }
	for i, v := range vs {
		if i >= len(vs)-policy.KeepLast {
			add(v.Number, fmt.Sprintf("one of the newest %d (prune.keepLast)", policy.KeepLast))
		}
	}
	for _, a := range f.Aliases {
		add(a.Version, "alias "+a.Name+" points at it")
		for _, r := range a.Routes {
			add(r, "alias "+a.Name+" routes traffic to it")
		}
	}
	for _, v := range slices.Sorted(maps.Keys(f.InFlight)) {
		add(v, f.InFlight[v])
	}
	for _, v := range slices.Sorted(maps.Keys(f.Rollback)) {
		add(v, f.Rollback[v])
	}
	p := Plan{Function: f.Function, KeepLast: policy.KeepLast}
	for _, v := range vs {
		d := Decision{Version: v, Kept: reasons[v.Number], Delete: len(reasons[v.Number]) == 0}
		if d.Delete {
			p.Freed += v.CodeSize
		}
		p.Decisions = append(p.Decisions, d)
	}
	return p
}

func number(v string) int {
	n, _ := strconv.Atoi(v)
	return n
}

// RollbackNeeds are the versions of fn a rollback could return prod to,
// by the ledger's rule (ledger.Trail.RollbackTarget, which `aliasflow
// rollback` and the approval API decide with): the version `rollback`
// without --to goes to, and every version `rollback --to` accepts without
// break-glass — one prod served after an approved promotion completed.
func RollbackNeeds(trail ledger.Trail, fn string, prod alias.Alias) map[string]string {
	out := map[string]string{}
	if t, err := trail.RollbackTarget(fn, prod, "", false); err == nil && t.To != "" {
		out[t.To] = "prod's rollback target (" + t.Why + ")"
	}
	for _, r := range trail.Of(fn) {
		if r.Event != audit.PromotionCompleted || r.Alias != promotion.AliasProd || r.ToVersion == "" {
			continue
		}
		if _, ok := out[r.ToVersion]; !ok {
			why := "a rollback --to may return to it (prod served it after an approved promotion"
			if name := promotion.ExecutionNameOf(r.Execution); name != "" {
				why += ", " + name
			}
			out[r.ToVersion] = why + ")"
		}
	}
	return out
}

// LambdaAPI is the Lambda calls pruning makes.
type LambdaAPI interface {
	ListVersionsByFunction(ctx context.Context, in *lambda.ListVersionsByFunctionInput, opts ...func(*lambda.Options)) (*lambda.ListVersionsByFunctionOutput, error)
	ListAliases(ctx context.Context, in *lambda.ListAliasesInput, opts ...func(*lambda.Options)) (*lambda.ListAliasesOutput, error)
	DeleteFunction(ctx context.Context, in *lambda.DeleteFunctionInput, opts ...func(*lambda.Options)) (*lambda.DeleteFunctionOutput, error)
	GetAccountSettings(ctx context.Context, in *lambda.GetAccountSettingsInput, opts ...func(*lambda.Options)) (*lambda.GetAccountSettingsOutput, error)
}

// StatesAPI is the Step Functions calls that find the promotions in flight.
type StatesAPI interface {
	ListExecutions(ctx context.Context, in *sfn.ListExecutionsInput, opts ...func(*sfn.Options)) (*sfn.ListExecutionsOutput, error)
	DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, opts ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
}

// Trail reads a function's audit records, newest first: a ledger.Ledger.
type Trail interface {
	Function(ctx context.Context, fn string) (ledger.Trail, error)
}

// Pruner reads the facts and deletes what they allow.
type Pruner struct {
	Lambda LambdaAPI
	States StatesAPI
	// StateMachine is the promotion state machine's ARN.
	StateMachine string
	Trail        Trail
}

// Usage is the Region's code storage: what the versions use and the quota.
type Usage struct {
	Used  int64 `json:"used"`
	Limit int64 `json:"limit"`
}

// Usage reads the Region's code storage use and quota (GetAccountSettings:
// AccountUsage.TotalCodeSize, AccountLimit.TotalCodeSize).
func (p *Pruner) Usage(ctx context.Context) (Usage, error) {
	out, err := p.Lambda.GetAccountSettings(ctx, &lambda.GetAccountSettingsInput{})
	if err != nil {
		return Usage{}, fmt.Errorf("prune: account settings: %w", err)
	}
	var u Usage
	if out.AccountUsage != nil {
		u.Used = out.AccountUsage.TotalCodeSize
	}
	if out.AccountLimit != nil {
		u.Limit = out.AccountLimit.TotalCodeSize
	}
	return u, nil
}

// Plan reads function's facts and decides under policy. Any fact that
// cannot be read fails the plan: nothing is deleted on a partial view.
func (p *Pruner) Plan(ctx context.Context, function string, policy config.Prune, running []Execution) (Plan, error) {
	f := Facts{Function: function, InFlight: map[string]string{}}
	var err error
	if f.Versions, err = p.versions(ctx, function); err != nil {
		return Plan{}, err
	}
	var prod alias.Alias
	if f.Aliases, prod, err = p.aliases(ctx, function); err != nil {
		return Plan{}, err
	}
	for _, e := range running {
		for v, why := range e.Names(function) {
			f.InFlight[v] = why
		}
	}
	trail, err := p.Trail.Function(ctx, function)
	if err != nil {
		return Plan{}, fmt.Errorf("prune: audit trail of %s: %w", function, err)
	}
	f.Rollback = RollbackNeeds(trail, function, prod)
	return Decide(f, policy), nil
}

func (p *Pruner) versions(ctx context.Context, function string) ([]Version, error) {
	var out []Version
	pg := lambda.NewListVersionsByFunctionPaginator(p.Lambda, &lambda.ListVersionsByFunctionInput{FunctionName: aws.String(function)})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("prune: versions of %s: %w", function, err)
		}
		for _, v := range page.Versions {
			if n := aws.ToString(v.Version); n != "$LATEST" {
				out = append(out, Version{Number: n, CodeSize: v.CodeSize})
			}
		}
	}
	return out, nil
}

// aliases lists function's aliases, and prod as the ledger reads it.
func (p *Pruner) aliases(ctx context.Context, function string) ([]Alias, alias.Alias, error) {
	var out []Alias
	var prod alias.Alias
	pg := lambda.NewListAliasesPaginator(p.Lambda, &lambda.ListAliasesInput{FunctionName: aws.String(function)})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return nil, alias.Alias{}, fmt.Errorf("prune: aliases of %s: %w", function, err)
		}
		for _, c := range page.Aliases {
			a := alias.FromConfiguration(c)
			name := aws.ToString(c.Name)
			if name == promotion.AliasProd {
				prod = a
			}
			out = append(out, Alias{Name: name, Version: a.Version, Routes: slices.Sorted(maps.Keys(a.Weights))})
		}
	}
	return out, prod, nil
}

// Execution is a running execution of the promotion state machine and the
// versions its input names.
type Execution struct {
	Name  string
	Input executionInput
}

// executionInput is the part of promotion.Input that names versions: the
// single function's, and a group release's members (read as JSON so that
// an input of any age decodes).
type executionInput struct {
	Function           string `json:"function"`
	Version            string `json:"version"`
	PreviousStgVersion string `json:"previousStgVersion"`
	Rollback           *struct {
		From string `json:"from"`
		To   string `json:"to"`
	} `json:"rollback"`
	Members []struct {
		Function           string `json:"function"`
		Version            string `json:"version"`
		PreviousStgVersion string `json:"previousStgVersion"`
	} `json:"members"`
}

// Names are the versions of function the execution names, with why.
func (e Execution) Names(function string) map[string]string {
	out := map[string]string{}
	add := func(fn, v, why string) {
		if fn == function && v != "" {
			out[v] = why
		}
	}
	in := e.Input
	add(in.Function, in.Version, "promotion "+e.Name+" (running) releases it")
	add(in.Function, in.PreviousStgVersion, "promotion "+e.Name+" (running) restores stg to it if it fails")
	if in.Rollback != nil {
		add(in.Function, in.Rollback.From, "rollback "+e.Name+" (running) moves prod from it")
		add(in.Function, in.Rollback.To, "rollback "+e.Name+" (running) moves prod to it")
	}
	for _, m := range in.Members {
		add(m.Function, m.Version, "group promotion "+e.Name+" (running) releases it")
		add(m.Function, m.PreviousStgVersion, "group promotion "+e.Name+" (running) restores stg to it if it fails")
	}
	return out
}

// Running lists the promotion state machine's running executions — the
// promotions in flight and those waiting for approval — with their input.
// An input that cannot be read fails the listing.
func (p *Pruner) Running(ctx context.Context) ([]Execution, error) {
	var out []Execution
	pg := sfn.NewListExecutionsPaginator(p.States, &sfn.ListExecutionsInput{StateMachineArn: aws.String(p.StateMachine), StatusFilter: sfntypes.ExecutionStatusRunning})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("prune: running promotions: %w", err)
		}
		for _, e := range page.Executions {
			d, err := p.States.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: e.ExecutionArn})
			if awserr.Code(err) == awserr.NotFound {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("prune: input of %s: %w", aws.ToString(e.Name), err)
			}
			x := Execution{Name: aws.ToString(e.Name)}
			if err := json.Unmarshal([]byte(aws.ToString(d.Input)), &x.Input); err != nil {
				return nil, fmt.Errorf("prune: input of %s does not read: %w", x.Name, err)
			}
			out = append(out, x)
		}
	}
	return out, nil
}

// Outcome is what deleting one version did.
type Outcome struct {
	// Function is the version's function: a pass deletes across targets.
	Function string  `json:"function"`
	Version  Version `json:"version"`
	Deleted  bool    `json:"deleted"`
	// Reason says why a planned deletion did not happen.
	Reason string `json:"reason,omitempty"`
}

// Apply deletes the plan's versions, one DeleteFunction call each with the
// version as Qualifier. A version an alias came to reference since the
// plan was read is refused by Lambda (ResourceConflictException) and kept;
// one already gone counts as not deleted here. Any other error stops the
// pass.
func (p *Pruner) Apply(ctx context.Context, plan Plan) ([]Outcome, error) {
	var out []Outcome
	for _, v := range plan.Deletions() {
		_, err := p.Lambda.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String(plan.Function), Qualifier: aws.String(v.Number)})
		switch awserr.Code(err) {
		case awserr.OK:
			out = append(out, Outcome{Function: plan.Function, Version: v, Deleted: true})
		case awserr.Conflict:
			out = append(out, Outcome{Function: plan.Function, Version: v, Reason: "kept: " + err.Error()})
		case awserr.NotFound:
			out = append(out, Outcome{Function: plan.Function, Version: v, Reason: "already gone"})
		default:
			return out, fmt.Errorf("prune: delete %s version %s: %w", plan.Function, v.Number, err)
		}
	}
	return out, nil
}

// Pass is one pruning pass over a pipeline's targets: the plans, what
// deleting did, and the Region's code storage before and after.
type Pass struct {
	Plans []Plan `json:"plans"`
	// Skipped are the targets whose settings set no prune policy.
	Skipped  []string  `json:"skipped,omitempty"`
	Outcomes []Outcome `json:"outcomes,omitempty"`
	Before   Usage     `json:"before"`
	After    *Usage    `json:"after,omitempty"`
}

// Deletions counts the versions the pass's plans delete.
func (s *Pass) Deletions() int {
	n := 0
	for _, p := range s.Plans {
		n += len(p.Deletions())
	}
	return n
}

// PlanAll plans every target whose settings set a prune policy, reading
// the running promotions once for all of them. It deletes nothing.
func (p *Pruner) PlanAll(ctx context.Context, targets []config.Target) (*Pass, error) {
	s := &Pass{}
	var err error
	if s.Before, err = p.Usage(ctx); err != nil {
		return nil, err
	}
	running, err := p.Running(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range targets {
		if t.Prune == nil {
			s.Skipped = append(s.Skipped, t.Function)
			continue
		}
		plan, err := p.Plan(ctx, t.Function, *t.Prune, running)
		if err != nil {
			return nil, err
		}
		s.Plans = append(s.Plans, plan)
	}
	return s, nil
}

// ApplyAll deletes what the pass planned and a fresh read of the facts
// still allows — a promotion may have started, or an alias moved, since
// the plans were made (and shown) — then reads the code storage again.
// `aliasflow prune` calls it after the operator confirmed the plans; the
// reconciler right after PlanAll.
func (p *Pruner) ApplyAll(ctx context.Context, s *Pass) error {
	running, err := p.Running(ctx)
	if err != nil {
		return err
	}
	for _, plan := range s.Plans {
		if len(plan.Deletions()) == 0 {
			continue
		}
		fresh, err := p.Plan(ctx, plan.Function, config.Prune{KeepLast: plan.KeepLast}, running)
		if err != nil {
			return err
		}
		out, err := p.Apply(ctx, intersect(plan, fresh))
		s.Outcomes = append(s.Outcomes, out...)
		if err != nil {
			return err
		}
	}
	after, err := p.Usage(ctx)
	if err != nil {
		return err
	}
	s.After = &after
	return nil
}

// intersect keeps the deletions both plans agree on.
func intersect(planned, fresh Plan) Plan {
	ok := map[string]bool{}
	for _, v := range fresh.Deletions() {
		ok[v.Number] = true
	}
	out := planned
	out.Decisions = nil
	for _, d := range planned.Decisions {
		d.Delete = d.Delete && ok[d.Version.Number]
		out.Decisions = append(out.Decisions, d)
	}
	return out
}
