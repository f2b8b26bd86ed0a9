package cli

import "context"

// BuildHello lets the end-to-end tests build hello variants as the demo does.
var BuildHello = buildHello

// DemoDecision runs the demo's wait for a person's decision on the
// promotion execution and says what came: "key", "approved", "rejected"
// or "expired", with who and the comment.
func DemoDecision(ctx context.Context, env Env, execution string) (kind, who, comment string, err error) {
	a := &app{env: env, clients: env.Clients, g: globals{stateMachine: DefaultStateMachine, logGroup: DefaultLogGroup}}
	d := &demo{a: a, out: env.Stdout}
	p, err := a.readProgress(ctx, execution)
	if err != nil {
		return "", "", "", err
	}
	dec, err := d.waitForDecision(ctx, p)
	names := map[decidedKind]string{decidedKey: "key", decidedApproved: "approved", decidedRejected: "rejected", decidedExpired: "expired"}
	return names[dec.kind], dec.who, dec.comment, err
}

// CountApprovals is countApprovals, for its table test.
var CountApprovals = countApprovals

// ApprovalLink matches an approval link in an e-mail or the CLI's output.
var ApprovalLink = approvalLink
