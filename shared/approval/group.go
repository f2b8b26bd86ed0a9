package approval

import (
	"context"
	"fmt"
	"strings"

	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aliasflow/aliasflow/shared/untrusted"
)

// memberView is one member of a group's release on the approval page.
type memberView struct {
	Function, Version, Commit, CommitURL string
	// Prod is what the member's prod serves now.
	Prod string
}

// memberViews are a group's members for the page: each with its version,
// its commit (linked by the member's own repository) and what its prod
// serves; nil for one function's release.
func (h *Handler) memberViews(ctx context.Context, in promotion.Input) []memberView {
	if len(in.Members) == 0 {
		return nil
	}
	out := make([]memberView, 0, len(in.Members))
	for _, m := range in.Members {
		prod, _ := h.serving(ctx, m.Function, promotion.AliasProd)
		out = append(out, memberView{
			Function: m.Function, Version: m.Version,
			Commit: untrusted.Show(m.Release.Commit), CommitURL: m.Target.Repository.Commit(m.Release.Commit),
			Prod: prod,
		})
	}
	return out
}

// groupTitle is the page's question for a group: "Approve group api (3
// functions) for prod?".
func groupTitle(group string, members int) string {
	return fmt.Sprintf("Approve group %s (%d functions) for prod?", group, members)
}

// MembersText is the e-mail's list of a group's members, one line each
// with its version and commit; "" for one function's release.
func MembersText(in promotion.Input) string {
	if len(in.Members) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Group %s: %d functions, approved once and moved together (any failure rolls every one back):\n",
		untrusted.Show(in.Group), len(in.Members))
	for _, m := range in.Members {
		commit := untrusted.Show(m.Release.Commit)
		if commit == "" {
			commit = "(unknown)"
		}
		fmt.Fprintf(&b, "  %s version %s, commit %s, code %s\n", untrusted.Show(m.Function), untrusted.Show(m.Version), commit,
			untrusted.Show(m.Release.CodeSha256))
	}
	return b.String()
}
