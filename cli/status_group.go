package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aliasflow/aliasflow/shared/untrusted"
	"github.com/aws/aws-sdk-go-v2/aws"
)

// GroupPromotion is a promotion of several functions of a group, as status
// lists it: one promotion, every member with its version.
type GroupPromotion struct {
	Execution string        `json:"execution"`
	Name      string        `json:"name"`
	Group     string        `json:"group"`
	Members   []GroupMember `json:"members"`
}

// GroupMember is one function of a group's promotion.
type GroupMember struct {
	Function           string `json:"function"`
	Version            string `json:"version"`
	PreviousStgVersion string `json:"previousStgVersion,omitempty"`
	Commit             string `json:"commit,omitempty"`
}

// groupRead is what the input of a group's execution says of it.
type groupRead struct {
	group   string
	members []promotion.Member
}

// groupOf is the group a promotion's execution name belongs to, "" when it
// is not a group's.
func groupOf(name string) string {
	ref, _ := promotion.ParseExecutionName(name)
	return ref.Group
}

// groupMembers reads, once a run, the members of the group promotion arn
// from its input (promotion.Input.Members): what readProgress described
// already, else one DescribeExecution.
func (a *app) groupMembers(ctx context.Context, arn string) (groupRead, error) {
	if g, ok := a.groups[arn]; ok {
		return g, nil
	}
	var input string
	if f := a.followed[arn]; f != nil {
		input = aws.ToString(f.exec.Input)
	} else {
		c, err := a.aws(ctx)
		if err != nil {
			return groupRead{}, err
		}
		exec, err := a.describe(ctx, c, arn)
		if err != nil {
			return groupRead{}, err
		}
		input = aws.ToString(exec.Input)
	}
	var in promotion.Input
	if err := json.Unmarshal([]byte(input), &in); err != nil {
		return groupRead{}, fmt.Errorf("read the input of %s: %w", nameOf(arn), err)
	}
	g := groupRead{group: in.Group, members: in.Members}
	if a.groups == nil {
		a.groups = map[string]groupRead{}
	}
	a.groups[arn] = g
	return g, nil
}

// inGroupPromotion reports whether the execution name/arn is a group's
// promotion that moves fn.
func (a *app) inGroupPromotion(ctx context.Context, name, arn, fn string) (bool, error) {
	if groupOf(name) == "" {
		return false, nil
	}
	g, err := a.groupMembers(ctx, arn)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(g.members, func(m promotion.Member) bool { return m.Function == fn }), nil
}

// groupPromotions are the group promotions among st's running and last
// promotions, each with its members.
func (a *app) groupPromotions(ctx context.Context, st *FunctionStatus) error {
	for _, p := range append(slices.Clone(st.Promotions), st.Last) {
		if p == nil || groupOf(p.Name) == "" {
			continue
		}
		g, err := a.groupMembers(ctx, p.Execution)
		if err != nil {
			return err
		}
		gp := GroupPromotion{Execution: p.Execution, Name: p.Name, Group: g.group, Members: []GroupMember{}}
		for _, m := range g.members {
			if m.Function == st.Function {
				// The input's Function/Version are the first member's:
				// this function's row shows its own.
				p.Function, p.Version = m.Function, m.Version
			}
			gp.Members = append(gp.Members, GroupMember{Function: m.Function, Version: m.Version, PreviousStgVersion: m.PreviousStgVersion, Commit: m.Release.Commit})
		}
		st.Groups = append(st.Groups, gp)
	}
	return nil
}

// printGroups says, for each group promotion status lists, that it is one
// promotion of several functions, and which.
func printGroups(w io.Writer, st *FunctionStatus) {
	for _, g := range st.Groups {
		parts := make([]string, len(g.Members))
		for i, m := range g.Members {
			parts[i] = untrusted.Show(m.Function) + " v" + untrusted.Show(m.Version)
			if m.Commit != "" {
				parts[i] += " (" + short(untrusted.Show(m.Commit), 12) + ")"
			}
		}
		fmt.Fprintf(w, "%s is one promotion of group %s: %s\n", g.Name, untrusted.Show(g.Group), strings.Join(parts, ", "))
	}
}
