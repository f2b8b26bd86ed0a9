package release

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/eventpatterns"
	"github.com/aliasflow/aliasflow/shared/settings"
)

// SettingsRecorded: the event was a write of a target's settings, audited
// as settings.changed.
const SettingsRecorded Outcome = "settings.recorded"

// cloudTrailCall is the part of CloudTrail's record of an API call, as
// EventBridge delivers it in an "AWS API Call via CloudTrail" event's
// detail, that a settings.changed record needs ("CloudTrail record
// contents", AWS CloudTrail User Guide: userIdentity, eventSource,
// eventName, requestParameters, responseElements, errorCode).
type cloudTrailCall struct {
	EventSource       string   `json:"eventSource"`
	EventName         string   `json:"eventName"`
	EventID           string   `json:"eventID"`
	ErrorCode         string   `json:"errorCode"`
	UserIdentity      identity `json:"userIdentity"`
	RequestParameters struct {
		Name string `json:"name"`
	} `json:"requestParameters"`
	ResponseElements *struct {
		Version int64 `json:"version"`
	} `json:"responseElements"`
}

// isSettingsWrite reports whether an event is CloudTrail's record of a
// Parameter Store API call, which only AWS can put on the bus (an "aws."
// source is refused to PutEvents callers).
func isSettingsWrite(raw []byte) (json.RawMessage, bool) {
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return nil, false
	}
	return env.Detail, env.Source == eventpatterns.SSMSource && env.DetailType == eventpatterns.CloudTrailAPIDetailType
}

// settingsChanged audits one write of a target's settings parameter: who
// wrote it, as CloudTrail recorded the caller, and which gate-relevant
// fields changed between the version written and the one before it (read
// with GetParameterHistory; the CloudTrail record carries no value).
// Reading the history failing is an error, so that Lambda retries the
// event; anything else not to record is Ignored with the reason.
func (h *Handler) settingsChanged(ctx context.Context, detail json.RawMessage) (Result, error) {
	var call cloudTrailCall
	if err := json.Unmarshal(detail, &call); err != nil {
		return Result{Outcome: Ignored, Reason: "a CloudTrail record that does not parse: " + err.Error()}, nil
	}
	name := call.RequestParameters.Name
	switch {
	case call.EventSource != eventpatterns.SSMEventSource || call.EventName != eventpatterns.PutParameterEvent:
		return Result{Outcome: Ignored, Reason: fmt.Sprintf("CloudTrail record of %s %s, not a settings write", call.EventSource, call.EventName)}, nil
	case call.ErrorCode != "":
		return Result{Outcome: Ignored, Reason: "a refused PutParameter (" + call.ErrorCode + ") changed nothing"}, nil
	case h.SettingsPath == "" || h.SettingsHistory == nil:
		return Result{Outcome: Ignored, Reason: "this release Lambda audits no settings (no settings path or history reader)"}, nil
	case !strings.HasPrefix(name, h.SettingsPath):
		return Result{Outcome: Ignored, Reason: fmt.Sprintf("parameter %q is outside the settings path %s", name, h.SettingsPath)}, nil
	}
	function := strings.TrimPrefix(name, h.SettingsPath)
	if err := config.ValidateFunctionName(function); err != nil || strings.Contains(function, "/") {
		return Result{Outcome: Ignored, Reason: fmt.Sprintf("parameter %q names no target function", name)}, nil
	}
	var version int64
	if call.ResponseElements != nil {
		version = call.ResponseElements.Version
	}
	if version <= 0 {
		return Result{Outcome: Ignored, Reason: fmt.Sprintf("the CloudTrail record of %s names no version written", name)}, nil
	}
	prev, _, cur, err := settings.Versions(ctx, h.SettingsHistory, name, version)
	if err != nil {
		return Result{}, err
	}
	h.Audit.Record(ctx, audit.Record{
		Event: audit.SettingsChanged, Function: function, Actor: call.UserIdentity.actor(),
		EventID: call.EventID, // a redelivery reads as one record (versionDeleted says why)
		Reason:  fmt.Sprintf("settings version %d of %s", version, name),
		Changes: settings.Diff(prev, cur),
	})
	return Result{Outcome: SettingsRecorded, Function: function, Version: fmt.Sprint(version)}, nil
}
