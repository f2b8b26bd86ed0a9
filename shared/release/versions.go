package release

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/eventpatterns"
)

// VersionRecorded: the event was the deletion of a target's version,
// audited as version.deleted.
const VersionRecorded Outcome = "version.recorded"

// lambdaCall is the part of CloudTrail's record of a Lambda API call that
// a version.deleted record needs: who called, and the function and
// qualifier the DeleteFunction request named.
type lambdaCall struct {
	EventSource       string   `json:"eventSource"`
	EventName         string   `json:"eventName"`
	EventID           string   `json:"eventID"`
	ErrorCode         string   `json:"errorCode"`
	UserIdentity      identity `json:"userIdentity"`
	RequestParameters struct {
		FunctionName string `json:"functionName"`
		Qualifier    string `json:"qualifier"`
	} `json:"requestParameters"`
}

// identity is CloudTrail's userIdentity.
type identity struct {
	Type      string `json:"type"`
	ARN       string `json:"arn"`
	InvokedBy string `json:"invokedBy"`
}

// actor names the caller as CloudTrail recorded it; an AWS service's call
// carries invokedBy and no ARN.
func (i identity) actor() string {
	if i.ARN != "" {
		return i.ARN
	}
	return strings.TrimSpace(i.Type + " " + i.InvokedBy)
}

// isLambdaCall reports whether an event is CloudTrail's record of a Lambda
// API call, which only AWS can put on the bus.
func isLambdaCall(raw []byte) (json.RawMessage, bool) {
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return nil, false
	}
	return env.Detail, env.Source == eventpatterns.LambdaSource && env.DetailType == eventpatterns.CloudTrailAPIDetailType
}

// versionDeleted audits one deletion of a target's published version, once
// per CloudTrail record of a DeleteFunction call that succeeded: whoever
// called — `aliasflow prune`, the reconciler, or a person at the console —
// is named as CloudTrail verified them. A refused call deleted nothing; a
// call without a version qualifier deleted a whole function, which is not
// a version's deletion (and a target's deletion takes its settings' owner
// to notice); a function that is no target is not aliasflow's to audit.
func (h *Handler) versionDeleted(ctx context.Context, detail json.RawMessage) (Result, error) {
	var call lambdaCall
	if err := json.Unmarshal(detail, &call); err != nil {
		return Result{Outcome: Ignored, Reason: "a CloudTrail record that does not parse: " + err.Error()}, nil
	}
	fn, q := splitQualified(call.RequestParameters.FunctionName)
	if call.RequestParameters.Qualifier != "" {
		q = call.RequestParameters.Qualifier
	}
	switch {
	case call.EventSource != eventpatterns.LambdaEventSource || call.EventName != eventpatterns.DeleteFunctionEvent:
		return Result{Outcome: Ignored, Reason: fmt.Sprintf("CloudTrail record of %s %s, not a version deletion", call.EventSource, call.EventName)}, nil
	case call.ErrorCode != "":
		return Result{Outcome: Ignored, Reason: "a refused DeleteFunction (" + call.ErrorCode + ") deleted nothing"}, nil
	case q == "" || strings.Trim(q, "0123456789") != "":
		return Result{Outcome: Ignored, Reason: fmt.Sprintf("DeleteFunction of %s without a version", fn)}, nil
	}
	if _, err := h.Targets.Target(ctx, fn); err != nil {
		if errors.Is(err, config.ErrNotConfigured) {
			return Result{Outcome: Ignored, Reason: fmt.Sprintf("%s is no target", fn)}, nil
		}
		return Result{}, err // the settings could not be read: retried
	}
	// The CloudTrail event's id tells a second delivery of the same call
	// (EventBridge delivers at least once) from a second deletion, which
	// cannot happen: Lambda never reuses a version number.
	h.Audit.Record(ctx, audit.Record{Event: audit.VersionDeleted, Function: fn, FromVersion: q, Actor: call.UserIdentity.actor(),
		Reason: fmt.Sprintf("version %s of %s deleted (DeleteFunction, CloudTrail event %s)", q, fn, orNone(call.EventID))})
	return Result{Outcome: VersionRecorded, Function: fn, Version: q}, nil
}

// splitQualified reads a function name, name:qualifier or (partial) ARN
// as DeleteFunction's FunctionName takes them.
func splitQualified(s string) (name, qualifier string) {
	parts := strings.Split(s, ":")
	if i := indexOf(parts, "function"); i >= 0 {
		parts = parts[i+1:]
	}
	switch len(parts) {
	case 0:
		return "", ""
	case 1:
		return parts[0], ""
	}
	return parts[0], parts[1]
}

func indexOf(parts []string, s string) int {
	for i, p := range parts {
		if p == s {
			return i
		}
	}
	return -1
}

func orNone(s string) string {
	if s == "" {
		return "without id"
	}
	return s
}
