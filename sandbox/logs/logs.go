// Package logssvc is the sandbox's Amazon CloudWatch Logs (awsJson1_1,
// "Logs_20140328.<Op>"): log groups and streams, PutLogEvents,
// GetLogEvents and FilterLogEvents with the filter pattern syntax aliasflow
// uses (see FilterPattern). It is also the core.LogSink the sandbox's Lambda
// writes every function output line to, creating groups and streams on
// first use as Lambda does.
package logssvc

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/core"
)

const (
	// maxStreamEvents bounds memory: a stream keeps its newest events only.
	maxStreamEvents = 50000
	defaultLimit    = 10000
)

// Service is the CloudWatch Logs emulation. It is an http.Handler and a
// core.LogSink.
type Service struct {
	now func() time.Time

	mu     sync.Mutex
	groups map[string]*group
	seq    int64 // ingestion order, a tiebreak for equal timestamps
}

var _ core.LogSink = (*Service)(nil)

type group struct {
	Name     string
	Created  int64
	Streams  map[string]*stream
	Retained int `json:",omitempty"`
}

type stream struct {
	Name    string
	Created int64
	Events  []event
}

type event struct {
	Timestamp int64 `json:"t"`
	Ingested  int64 `json:"i"`
	Seq       int64 `json:"s"`
	Message   string
}

// New returns an empty CloudWatch Logs; now defaults to time.Now.
func New(now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{now: now, groups: map[string]*group{}}
}

// ServeHTTP serves the CloudWatch Logs API the project calls:
// FilterLogEvents. Groups and streams come from the functions' output
// (Append); any other operation is refused, named.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	core.ServeAWSJSON(w, r, "logs", map[string]core.JSONOp{
		"FilterLogEvents": s.filterLogEvents,
	})
}

func invalidParam(format string, args ...any) *core.APIError {
	return core.Errorf("InvalidParameterException", http.StatusBadRequest, format, args...)
}

func groupNotFound() *core.APIError {
	return core.Errorf("ResourceNotFoundException", http.StatusBadRequest, "The specified log group does not exist.")
}

func streamNotFound() *core.APIError {
	return core.Errorf("ResourceNotFoundException", http.StatusBadRequest, "The specified log stream does not exist.")
}

// GroupARN is a log group's ARN.
func GroupARN(name string) string {
	return fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s", core.Region, core.Account, name)
}

// groupName resolves logGroupName / logGroupIdentifier (a name or an ARN).
func groupName(name, identifier string) (string, error) {
	if name != "" && identifier != "" {
		return "", invalidParam("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
	}
	if identifier != "" {
		if rest, ok := strings.CutPrefix(identifier, GroupARN("")); ok {
			return strings.TrimSuffix(rest, ":*"), nil
		}
		return identifier, nil
	}
	if name == "" {
		return "", invalidParam("Either logGroupName or logGroupIdentifier must be specified.")
	}
	return name, nil
}

func (s *Service) millis() int64 { return s.now().UnixMilli() }

// appendLocked inserts an event in timestamp order; s.mu is held.
func (s *Service) appendLocked(st *stream, ts, ingested int64, msg string) {
	s.seq++
	e := event{Timestamp: ts, Ingested: ingested, Seq: s.seq, Message: msg}
	i := len(st.Events)
	for i > 0 && st.Events[i-1].Timestamp > ts {
		i--
	}
	st.Events = append(st.Events, event{})
	copy(st.Events[i+1:], st.Events[i:])
	st.Events[i] = e
	if len(st.Events) > maxStreamEvents {
		st.Events = st.Events[len(st.Events)-maxStreamEvents:]
	}
}

// CreateGroup creates an empty log group, as CloudFormation does for an
// AWS::Logs::LogGroup; one that exists is kept as it is.
func (s *Service) CreateGroup(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.groups[name] == nil {
		s.groups[name] = &group{Name: name, Created: s.millis(), Streams: map[string]*stream{}}
	}
}

// Append implements core.LogSink: one function output line, the group and
// stream created on first use.
func (s *Service) Append(groupName, streamName string, at time.Time, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.millis()
	g := s.groups[groupName]
	if g == nil {
		g = &group{Name: groupName, Created: now, Streams: map[string]*stream{}}
		s.groups[groupName] = g
	}
	st := g.Streams[streamName]
	if st == nil {
		st = &stream{Name: streamName, Created: now}
		g.Streams[streamName] = st
	}
	s.appendLocked(st, at.UnixMilli(), now, message)
}

type filteredEvent struct {
	LogStreamName string `json:"logStreamName"`
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
	EventID       string `json:"eventId"`
}

// FilterQuery is what FilterLogEvents selects; the zero value of each
// field selects everything.
type FilterQuery struct {
	Group         string
	Streams       []string
	StreamPrefix  string
	Start, End    *int64 // epoch milliseconds, End exclusive
	FilterPattern string
}

func (s *Service) filterLogEvents(_ context.Context, body []byte) (any, error) {
	var in struct {
		LogGroupName, LogGroupIdentifier, LogStreamNamePrefix, FilterPattern, NextToken string
		LogStreamNames                                                                  []string
		StartTime, EndTime                                                              *int64
		Limit                                                                           int
	}
	if err := core.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	name, err := groupName(in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	if len(in.LogStreamNames) > 0 && in.LogStreamNamePrefix != "" {
		return nil, invalidParam("logStreamNames and logStreamNamePrefix are mutually exclusive parameters.")
	}
	if in.Limit < 0 || in.Limit > defaultLimit {
		return nil, invalidParam("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 10000", in.Limit)
	}
	limit := in.Limit
	if limit == 0 {
		limit = defaultLimit
	}
	var after *[2]int64
	if in.NextToken != "" {
		raw, err := base64.RawURLEncoding.DecodeString(in.NextToken)
		var ts, seq int64
		if err == nil {
			_, err = fmt.Sscanf(string(raw), "%d/%d", &ts, &seq)
		}
		if err != nil {
			return nil, invalidParam("The specified nextToken is invalid.")
		}
		after = &[2]int64{ts, seq}
	}
	events, err := s.Filter(FilterQuery{Group: name, Streams: in.LogStreamNames, StreamPrefix: in.LogStreamNamePrefix,
		Start: in.StartTime, End: in.EndTime, FilterPattern: in.FilterPattern})
	if err != nil {
		return nil, err
	}
	out := struct {
		Events    []filteredEvent `json:"events"`
		NextToken string          `json:"nextToken,omitempty"`
	}{Events: []filteredEvent{}}
	for _, e := range events {
		if after != nil && (e.Timestamp < after[0] || (e.Timestamp == after[0] && e.seq <= after[1])) {
			continue
		}
		if len(out.Events) == limit {
			last := out.Events[len(out.Events)-1]
			out.NextToken = base64.RawURLEncoding.EncodeToString([]byte(last.EventID))
			break
		}
		out.Events = append(out.Events, filteredEvent{e.Stream, e.Timestamp, e.Message, e.IngestionTime, e.ID})
	}
	return out, nil
}

// LogEvent is one event FilterLogEvents returns.
type LogEvent struct {
	Stream        string
	Timestamp     int64 // epoch milliseconds
	IngestionTime int64
	Message       string
	// ID is unique in the group and orders events with equal timestamps.
	ID  string
	seq int64
}

// Filter returns the events of a group that match q, oldest first (the Go
// API behind FilterLogEvents). A bad filter pattern is
// InvalidParameterException, never a match-all.
func (s *Service) Filter(q FilterQuery) ([]LogEvent, error) {
	fp, err := CompileFilterPattern(q.FilterPattern)
	if err != nil {
		return nil, invalidParam("Invalid filter pattern: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[q.Group]
	if g == nil {
		return nil, groupNotFound()
	}
	wanted := map[string]bool{}
	for _, n := range q.Streams {
		if g.Streams[n] == nil {
			return nil, streamNotFound()
		}
		wanted[n] = true
	}
	var out []LogEvent
	for n, st := range g.Streams {
		if (len(wanted) > 0 && !wanted[n]) || !strings.HasPrefix(n, q.StreamPrefix) {
			continue
		}
		for _, e := range st.Events {
			if (q.Start != nil && e.Timestamp < *q.Start) || (q.End != nil && e.Timestamp >= *q.End) || !fp.Match(e.Message) {
				continue
			}
			// The event id doubles as the pagination position.
			id := fmt.Sprintf("%d/%d", e.Timestamp, e.Seq)
			out = append(out, LogEvent{Stream: n, Timestamp: e.Timestamp, IngestionTime: e.Ingested, Message: e.Message, ID: id, seq: e.Seq})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Timestamp != out[j].Timestamp {
			return out[i].Timestamp < out[j].Timestamp
		}
		return out[i].seq < out[j].seq
	})
	return out, nil
}

type snapshot struct {
	Groups []*group
	Seq    int64
}

// Snapshot returns every group, stream and event as JSON.
func (s *Service) Snapshot() ([]byte, error) {
	return core.Snapshot(&s.mu, func() snapshot { return snapshot{Groups: core.SortedValues(s.groups), Seq: s.seq} })
}

// Restore replaces the state with that of a Snapshot.
func (s *Service) Restore(data []byte) error {
	return core.Restore("logs", data, &s.mu, func(snap snapshot) error {
		for _, g := range snap.Groups {
			if g.Streams == nil {
				g.Streams = map[string]*stream{}
			}
		}
		s.groups, s.seq = core.Keyed(snap.Groups, func(g *group) string { return g.Name }), snap.Seq
		return nil
	})
}
