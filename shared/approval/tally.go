package approval

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// Where the approvals of a target with approval.required > 1 wait for the
// others. The task token is answered once, by the approval that completes
// the count, so the approvals before it must be kept outside the Lambda (a
// restart loses memory; two clicks may land on two execution
// environments) and counted without a lost update when two approvers
// click at once. Neither the audit trail nor the execution history serves:
// CloudWatch Logs makes a record readable only after the Lambda's log
// delivery (seconds later), so two concurrent approvals would each count
// one and neither would answer; Step Functions keeps no data a task
// answer does not carry. Parameter Store does, with the one conditional
// write the count needs: PutParameter without Overwrite creates a name or
// fails with ParameterAlreadyExists ("The parameter already exists. You
// can't create duplicate parameters", PutParameter, AWS Systems Manager
// API Reference). Each approval claims the next numbered slot of its
// execution (<path><execution>/001, /002, ...); a slot is taken by one
// approval only, so the approval that claims the Nth valid slot — and only
// it — answers the task, and an approver already in a slot is counted
// once. The slots are deleted when the outcome is recorded.

// Tally keeps the approvals counted toward approval.required.
type Tally interface {
	// Votes returns an execution's approvals, in the order they were
	// counted.
	Votes(ctx context.Context, execution string) ([]promotion.Approval, error)
	// Claim stores a as the execution's slot-th approval; false when that
	// slot is taken.
	Claim(ctx context.Context, execution string, slot int, a promotion.Approval) (bool, error)
	// Clear deletes an execution's approvals.
	Clear(ctx context.Context, execution string) error
}

// ParameterSSM is the Parameter Store calls a ParameterTally makes.
type ParameterSSM interface {
	PutParameter(ctx context.Context, in *ssm.PutParameterInput, opts ...func(*ssm.Options)) (*ssm.PutParameterOutput, error)
	GetParametersByPath(ctx context.Context, in *ssm.GetParametersByPathInput, opts ...func(*ssm.Options)) (*ssm.GetParametersByPathOutput, error)
	DeleteParameters(ctx context.Context, in *ssm.DeleteParametersInput, opts ...func(*ssm.Options)) (*ssm.DeleteParametersOutput, error)
}

// ParameterTally is a Tally in Parameter Store, one String parameter per
// counted approval under Path (settings.ApprovalsPath).
type ParameterTally struct {
	Client ParameterSSM
	Path   string
}

var _ Tally = ParameterTally{}

// maxVoteBytes keeps a slot within a Standard parameter's 4 KB ("Managing
// parameter tiers", AWS Systems Manager User Guide); the comment is what
// gives way (the approval.counted audit record keeps it whole).
const maxVoteBytes = 4096

func (p ParameterTally) prefix(execution string) string {
	return p.Path + promotion.ExecutionNameOf(execution) + "/"
}

// Votes reads the slots of an execution.
func (p ParameterTally) Votes(ctx context.Context, execution string) ([]promotion.Approval, error) {
	type slot struct {
		n int
		a promotion.Approval
	}
	var slots []slot
	in := &ssm.GetParametersByPathInput{Path: aws.String(strings.TrimSuffix(p.prefix(execution), "/"))}
	for {
		out, err := p.Client.GetParametersByPath(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("approvals of %s: %w", promotion.ExecutionNameOf(execution), err)
		}
		for _, prm := range out.Parameters {
			name := aws.ToString(prm.Name)
			n, err := strconv.Atoi(name[strings.LastIndex(name, "/")+1:])
			var a promotion.Approval
			if err != nil || json.Unmarshal([]byte(aws.ToString(prm.Value)), &a) != nil || a.Approver == "" {
				// Not a slot this code wrote: never counted.
				continue
			}
			slots = append(slots, slot{n, a})
		}
		if aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	slices.SortFunc(slots, func(a, b slot) int { return a.n - b.n })
	votes := make([]promotion.Approval, 0, len(slots))
	for _, s := range slots {
		votes = append(votes, s.a)
	}
	return votes, nil
}

// Claim creates slot n, or reports it taken.
func (p ParameterTally) Claim(ctx context.Context, execution string, n int, a promotion.Approval) (bool, error) {
	value, err := voteJSON(a)
	if err != nil {
		return false, err
	}
	name := fmt.Sprintf("%s%03d", p.prefix(execution), n)
	_, err = p.Client.PutParameter(ctx, &ssm.PutParameterInput{
		Name: aws.String(name), Value: aws.String(value), Type: ssmtypes.ParameterTypeString,
		Overwrite: aws.Bool(false), Tier: ssmtypes.ParameterTierStandard,
		Description: aws.String("aliasflow: an approval counted toward approval.required"),
	})
	var exists *ssmtypes.ParameterAlreadyExists
	switch {
	case errors.As(err, &exists):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("count approval %s: %w", name, err)
	}
	return true, nil
}

// Clear deletes every slot of an execution (DeleteParameters takes at most
// 10 names a call).
func (p ParameterTally) Clear(ctx context.Context, execution string) error {
	var names []string
	in := &ssm.GetParametersByPathInput{Path: aws.String(strings.TrimSuffix(p.prefix(execution), "/"))}
	for {
		out, err := p.Client.GetParametersByPath(ctx, in)
		if err != nil {
			return fmt.Errorf("clear approvals of %s: %w", promotion.ExecutionNameOf(execution), err)
		}
		for _, prm := range out.Parameters {
			names = append(names, aws.ToString(prm.Name))
		}
		if aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	for batch := range slices.Chunk(names, 10) {
		if _, err := p.Client.DeleteParameters(ctx, &ssm.DeleteParametersInput{Names: batch}); err != nil {
			return fmt.Errorf("clear approvals of %s: %w", promotion.ExecutionNameOf(execution), err)
		}
	}
	return nil
}

// voteJSON encodes a slot, shortening the comment to fit.
func voteJSON(a promotion.Approval) (string, error) {
	for {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(a); err != nil {
			return "", fmt.Errorf("encode approval: %w", err)
		}
		if b.Len() <= maxVoteBytes || a.Comment == "" {
			return strings.TrimSpace(b.String()), nil
		}
		cut := len(a.Comment) / 2
		for cut > 0 && !utf8.RuneStart(a.Comment[cut]) {
			cut--
		}
		a.Comment = a.Comment[:cut] + "…"
		if cut == 0 {
			a.Comment = ""
		}
	}
}

// counted is where an approval stands toward approval.required.
type counted struct {
	required int
	// votes are the valid, distinct approvals, oldest first.
	votes []promotion.Approval
	// already says the approver had been counted before this request.
	already bool
}

func (c counted) complete() bool { return len(c.votes) >= c.required }

// String reads "1 of 2 approvals".
func (c counted) String() string {
	return fmt.Sprintf("%d of %d approvals", min(len(c.votes), c.required), c.required)
}

// names lists who approved so far.
func (c counted) names() string {
	var who []string
	for _, v := range c.votes {
		who = append(who, v.Approver)
	}
	return strings.Join(who, ", ")
}

// maxClaims bounds the slots one approval tries when others claim them
// first: each lost race means another approval was counted meanwhile.
const maxClaims = 8

// count counts an approval d (already checked by decider) of a target
// needing more than one. It returns the decision to answer the task with
// once the count is complete (nil while more approvals are needed), and
// where the count stands.
func (h *Handler) count(ctx context.Context, t config.Target, rel promotion.Release, execution string, d promotion.Decision) (*promotion.Decision, counted, error) {
	c := counted{required: t.Approval.RequiredApprovals()}
	if c.required <= 1 {
		c.votes = []promotion.Approval{voteOf(d)}
		return &d, c, nil
	}
	if h.d.Tally == nil {
		return nil, c, errors.New("approval: no store for partial approvals configured (approval.required > 1)")
	}
	mine := voteOf(d)
	for range maxClaims {
		votes, err := h.d.Tally.Votes(ctx, execution)
		if err != nil {
			return nil, c, err
		}
		c.votes, c.already = validVotes(t, rel, votes), false
		for _, v := range votes {
			if strings.EqualFold(v.Approver, mine.Approver) || (mine.Principal != "" && v.Principal == mine.Principal) {
				c.already = true
			}
		}
		if !c.already {
			ok, err := h.d.Tally.Claim(ctx, execution, len(votes)+1, mine)
			if err != nil {
				return nil, c, err
			}
			if !ok {
				continue // another approval took the slot: count again
			}
			c.votes = append(c.votes, mine)
		}
		if !c.complete() {
			return nil, c, nil
		}
		// The decision names the approval that completed the count, so
		// whoever sends it (that approver, or one retrying after a failed
		// send) sends the same answer.
		last := c.votes[len(c.votes)-1]
		final := d
		if !strings.EqualFold(last.Approver, mine.Approver) {
			final = promotion.Decision{Approved: true, Approver: last.Approver, Principal: last.Principal, Via: last.Via,
				Comment: last.Comment, RequestedAt: d.RequestedAt, DecidedAt: last.DecidedAt}
		}
		final.Required, final.Earlier = c.required, slices.Clone(c.votes[:len(c.votes)-1])
		return &final, c, nil
	}
	return nil, c, fmt.Errorf("approval: the approvals of %s changed %d times while this one was counted; try again", promotion.ExecutionNameOf(execution), maxClaims)
}

// recordCounted audits an approval counted while more are needed: the
// one record of that approver's decision.
func (h *Handler) recordCounted(ctx context.Context, st promotion.State, execution string, d promotion.Decision, c counted) {
	reason := fmt.Sprintf("%s (%s); waiting for %d more", c, c.names(), c.required-len(c.votes))
	if d.Comment != "" {
		reason += ": " + d.Comment
	}
	h.record(ctx, audit.Record{Event: audit.ApprovalCounted, Function: st.Function, ToVersion: st.Version,
		Release: release(st.Input), Actor: actorOf(d), Execution: execution, Reason: reason, SettingsVersion: st.Input.SettingsVersion})
	h.flush(ctx)
}

func voteOf(d promotion.Decision) promotion.Approval {
	return promotion.Approval{Approver: d.Approver, Principal: d.Principal, Via: d.Via, Comment: d.Comment, DecidedAt: d.DecidedAt}
}

// validVotes keeps the stored approvals that still count under the
// target's current settings — the approver still listed (and, through the
// API, the principal still mapped to it), not the releaser under
// approval.distinctFromReleaser — once per approver and per principal.
func validVotes(t config.Target, rel promotion.Release, votes []promotion.Approval) []promotion.Approval {
	var out []promotion.Approval
	seen := map[string]bool{}
	for _, v := range votes {
		address, principal := v.Approver, ""
		if v.Via == ViaCLI {
			address, principal = "", v.Principal
		}
		approver, why := decider(t, rel, address, principal)
		if why != "" || !strings.EqualFold(approver, v.Approver) {
			continue
		}
		keys := []string{"approver " + strings.ToLower(approver)}
		if v.Principal != "" {
			keys = append(keys, "principal "+v.Principal)
		}
		if slices.ContainsFunc(keys, func(k string) bool { return seen[k] }) {
			continue
		}
		for _, k := range keys {
			seen[k] = true
		}
		out = append(out, v)
	}
	return out
}
