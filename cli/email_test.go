package cli_test

import (
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/cli"
	"github.com/aliasflow/aliasflow/shared/approval"
	"github.com/aliasflow/aliasflow/shared/promotion"
)

// TestEmailedCommandsWork runs each command the approval e-mail suggests to
// operators, as printed, through the CLI: it decides the waiting promotion
// (issue 23: the e-mail suggested `aliasflow reject hello`, which fails
// without --comment).
func TestEmailedCommandsWork(t *testing.T) {
	for _, c := range []struct {
		name, verb string
		approved   bool
	}{
		{"approve", "approve", true},
		{"reject", "reject", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			s := w.start(t, "2").Smoke(true).AwaitApproval()
			at := w.states.Clock.Now()
			body := approval.Body(promotion.State{Input: s.In}, "approver@example.com", at.Add(time.Hour), at, "https://approve.example/?t=x")
			args := emailedCommand(t, body, c.verb)
			code, out, errs := w.run(t, args...)
			wantCode(t, code, cli.ExitOK, out, errs)
			if len(w.sent()) != 1 || w.sent()[0].Success != c.approved {
				t.Errorf("`aliasflow %s` from the e-mail sent %+v, want one decision (approved: %v)", strings.Join(args, " "), w.sent(), c.approved)
			}
		})
	}
}

// emailedCommand is the arguments of the `aliasflow <verb> …` the e-mail
// body suggests, split as a shell would split its words and double quotes.
func emailedCommand(t *testing.T, body, verb string) []string {
	t.Helper()
	_, rest, ok := strings.Cut(body, "aliasflow "+verb+" ")
	if !ok {
		t.Fatalf("the e-mail suggests no `aliasflow %s`:\n%s", verb, body)
	}
	line, _, _ := strings.Cut(rest, "\n")
	// The command ends where the text around it resumes: a closing
	// parenthesis, or two spaces before the alternative.
	line, _, _ = strings.Cut(line, ")")
	line, _, _ = strings.Cut(line, "  ")
	args := []string{verb}
	var word strings.Builder
	quoted, inWord := false, false
	for _, r := range line {
		switch {
		case r == '"':
			quoted, inWord = !quoted, true
		case r == ' ' && !quoted:
			if inWord {
				args = append(args, word.String())
				word.Reset()
				inWord = false
			}
		default:
			word.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		args = append(args, word.String())
	}
	return args
}
