package settings

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// GateFields are the settings that decide who may let a release through
// and on which evidence: a settings.changed record reports each one a
// write changed. Dotted paths into the settings JSON.
var GateFields = []string{
	"approvers",
	"approval.principals",
	"approval.distinctFromReleaser",
	"approval.required",
	"strategy",
	"health.alarms",
	"health.allowAlarmsFiringAtStart",
	"health.freshSignal",
	"health.logRuntime",
	"health.maxBakeSeconds",
	"health.maxErrorRate",
	"health.maxP99LatencyRatio",
	"health.metricDelaySeconds",
	"health.minInvocations",
	"health.onInconclusive",
	"health.probes",
	"health.windowSeconds",
}

// Diff compares two settings documents (from is "" for a parameter's
// first version) on GateFields, in sorted order, each value as compact
// JSON ("" when absent). A document that is not JSON is reported as one
// change of the whole document: the write still happened and must show.
func Diff(from, to string) []audit.Change {
	read := func(doc string) (map[string]any, error) {
		m := map[string]any{}
		if doc == "" {
			return m, nil
		}
		err := json.Unmarshal([]byte(doc), &m)
		return m, err
	}
	old, oerr := read(from)
	cur, cerr := read(to)
	if oerr != nil || cerr != nil {
		describe := func(err error) string {
			if err != nil {
				return "(not JSON: " + err.Error() + ")"
			}
			return "(readable)"
		}
		return []audit.Change{{Field: "(document)", From: describe(oerr), To: describe(cerr)}}
	}
	fields := append([]string(nil), GateFields...)
	sort.Strings(fields)
	var out []audit.Change
	for _, f := range fields {
		a, b := lookup(old, f), lookup(cur, f)
		if a != b {
			out = append(out, audit.Change{Field: f, From: a, To: b})
		}
	}
	return out
}

// lookup returns the compact JSON at a dotted path, "" when absent.
func lookup(doc map[string]any, path string) string {
	var v any = doc
	for _, key := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		if v, ok = m[key]; !ok {
			return ""
		}
	}
	b, err := json.Marshal(v) // map keys sorted: equal values compare equal
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// History is the Parameter Store call reading a parameter's versions.
type History interface {
	GetParameterHistory(ctx context.Context, in *ssm.GetParameterHistoryInput, opts ...func(*ssm.Options)) (*ssm.GetParameterHistoryOutput, error)
}

// maxHistoryPages bounds the pages read: Parameter Store keeps a
// parameter's last 100 versions ("Working with parameter versions"), 50
// to a page at most (GetParameterHistory, MaxResults).
const maxHistoryPages = 10

// Versions reads the value of version v of parameter name and of the
// latest version before it (hasPrev false when there is none left in the
// history: v is the first, or the older ones were deleted).
func Versions(ctx context.Context, c History, name string, v int64) (prev string, hasPrev bool, cur string, err error) {
	in := &ssm.GetParameterHistoryInput{Name: aws.String(name), MaxResults: aws.Int32(50)}
	var found bool
	var prevVersion int64
	for page := 0; page < maxHistoryPages; page++ {
		out, err := c.GetParameterHistory(ctx, in)
		if err != nil {
			return "", false, "", fmt.Errorf("settings: parameter history of %s: %w", name, err)
		}
		for _, p := range out.Parameters {
			switch {
			case p.Version == v:
				cur, found = aws.ToString(p.Value), true
			case p.Version < v && p.Version > prevVersion:
				prev, prevVersion, hasPrev = aws.ToString(p.Value), p.Version, true
			}
		}
		if out.NextToken == nil {
			break
		}
		in.NextToken = out.NextToken
	}
	if !found {
		return "", false, "", fmt.Errorf("settings: version %d of %s is not in its history", v, name)
	}
	return prev, hasPrev, cur, nil
}
