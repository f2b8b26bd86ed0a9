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
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/core"
)

const (
	jsonVersion  = "1.1"
	targetPrefix = "Logs_20140328."
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

// ServeHTTP serves the CloudWatch Logs API.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	core.ServeAWSJSON(w, r, jsonVersion, targetPrefix, map[string]core.JSONOp{
		"CreateLogGroup":     s.createLogGroup,
		"CreateLogStream":    s.createLogStream,
		"DescribeLogGroups":  s.describeLogGroups,
		"DescribeLogStreams": s.describeLogStreams,
		"PutLogEvents":       s.putLogEvents,
		"GetLogEvents":       s.getLogEvents,
		"FilterLogEvents":    s.filterLogEvents,
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

// GroupARN is a log group's ARN (with the ":*" suffix DescribeLogGroups's
// arn field carries when star is true).
func GroupARN(name string, star bool) string {
	arn := fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s", core.Region, core.Account, name)
	if star {
		arn += ":*"
	}
	return arn
}

var (
	groupNameRE  = regexp.MustCompile(`^[\.\-_/#A-Za-z0-9]{1,512}$`)
	streamNameRE = regexp.MustCompile(`^[^:*]{1,512}$`)
)

// groupName resolves logGroupName / logGroupIdentifier (a name or an ARN).
func groupName(name, identifier string) (string, error) {
	if name != "" && identifier != "" {
		return "", invalidParam("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
	}
	if identifier != "" {
		if rest, ok := strings.CutPrefix(identifier, GroupARN("", false)); ok {
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

func (s *Service) createLogGroup(_ context.Context, body []byte) (any, error) {
	var in struct{ LogGroupName string }
	if err := core.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	return nil, s.CreateLogGroup(in.LogGroupName)
}

// CreateLogGroup creates a log group; an existing one is
// ResourceAlreadyExistsException, as in AWS.
func (s *Service) CreateLogGroup(name string) error {
	if !groupNameRE.MatchString(name) {
		return invalidParam("1 validation error detected: Value '%s' at 'logGroupName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.groups[name] != nil {
		return core.Errorf("ResourceAlreadyExistsException", http.StatusBadRequest, "The specified log group already exists")
	}
	s.groups[name] = &group{Name: name, Created: s.millis(), Streams: map[string]*stream{}}
	return nil
}

func (s *Service) createLogStream(_ context.Context, body []byte) (any, error) {
	var in struct{ LogGroupName, LogStreamName string }
	if err := core.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	if !streamNameRE.MatchString(in.LogStreamName) {
		return nil, invalidParam("1 validation error detected: Value '%s' at 'logStreamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [^:*]*", in.LogStreamName)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[in.LogGroupName]
	if g == nil {
		return nil, groupNotFound()
	}
	if g.Streams[in.LogStreamName] != nil {
		return nil, core.Errorf("ResourceAlreadyExistsException", http.StatusBadRequest, "The specified log stream already exists")
	}
	g.Streams[in.LogStreamName] = &stream{Name: in.LogStreamName, Created: s.millis()}
	return nil, nil
}

// page applies nextToken (the last name returned) and limit to sorted names.
func page(names []string, token string, limit, maxLimit int) ([]string, string, error) {
	if limit < 0 || limit > maxLimit {
		return nil, "", invalidParam("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value less than or equal to %d", limit, maxLimit)
	}
	if limit == 0 {
		limit = maxLimit
	}
	start := 0
	if token != "" {
		raw, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil {
			return nil, "", invalidParam("The specified nextToken is invalid.")
		}
		start = sort.SearchStrings(names, string(raw)+"\x00")
	}
	end := min(start+limit, len(names))
	next := ""
	if end < len(names) {
		next = base64.RawURLEncoding.EncodeToString([]byte(names[end-1]))
	}
	return names[start:end], next, nil
}

type logGroupOut struct {
	LogGroupName      string `json:"logGroupName"`
	CreationTime      int64  `json:"creationTime"`
	Arn               string `json:"arn"`
	LogGroupArn       string `json:"logGroupArn"`
	StoredBytes       int64  `json:"storedBytes"`
	MetricFilterCount int    `json:"metricFilterCount"`
	LogGroupClass     string `json:"logGroupClass"`
}

func (s *Service) describeLogGroups(_ context.Context, body []byte) (any, error) {
	var in struct {
		LogGroupNamePrefix, LogGroupNamePattern, NextToken string
		Limit                                              int
	}
	if err := core.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	if in.LogGroupNamePrefix != "" && in.LogGroupNamePattern != "" {
		return nil, invalidParam("LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for n := range s.groups {
		if strings.HasPrefix(n, in.LogGroupNamePrefix) && strings.Contains(strings.ToLower(n), strings.ToLower(in.LogGroupNamePattern)) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	sel, next, err := page(names, in.NextToken, in.Limit, 50)
	if err != nil {
		return nil, err
	}
	out := struct {
		LogGroups []logGroupOut `json:"logGroups"`
		NextToken string        `json:"nextToken,omitempty"`
	}{LogGroups: []logGroupOut{}, NextToken: next}
	for _, n := range sel {
		g := s.groups[n]
		var bytes int64
		for _, st := range g.Streams {
			for _, e := range st.Events {
				bytes += int64(len(e.Message))
			}
		}
		out.LogGroups = append(out.LogGroups, logGroupOut{n, g.Created, GroupARN(n, true), GroupARN(n, false), bytes, 0, "STANDARD"})
	}
	return out, nil
}

type logStreamOut struct {
	LogStreamName       string `json:"logStreamName"`
	CreationTime        int64  `json:"creationTime"`
	FirstEventTimestamp int64  `json:"firstEventTimestamp,omitempty"`
	LastEventTimestamp  int64  `json:"lastEventTimestamp,omitempty"`
	LastIngestionTime   int64  `json:"lastIngestionTime,omitempty"`
	Arn                 string `json:"arn"`
	StoredBytes         int64  `json:"storedBytes"`
}

func (s *Service) describeLogStreams(_ context.Context, body []byte) (any, error) {
	var in struct {
		LogGroupName, LogGroupIdentifier, LogStreamNamePrefix, OrderBy, NextToken string
		Descending                                                                bool
		Limit                                                                     int
	}
	if err := core.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	name, err := groupName(in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	switch in.OrderBy {
	case "", "LogStreamName":
	case "LastEventTime":
		if in.LogStreamNamePrefix != "" {
			return nil, invalidParam("Cannot order by LastEventTime with a logStreamNamePrefix.")
		}
	default:
		return nil, invalidParam("1 validation error detected: Value '%s' at 'orderBy' failed to satisfy constraint: Member must satisfy enum value set: [LogStreamName, LastEventTime]", in.OrderBy)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[name]
	if g == nil {
		return nil, groupNotFound()
	}
	var streams []*stream
	for n, st := range g.Streams {
		if strings.HasPrefix(n, in.LogStreamNamePrefix) {
			streams = append(streams, st)
		}
	}
	last := func(st *stream) int64 {
		if len(st.Events) == 0 {
			return 0
		}
		return st.Events[len(st.Events)-1].Timestamp
	}
	sort.Slice(streams, func(i, j int) bool {
		a, b := streams[i], streams[j]
		if in.Descending {
			a, b = b, a
		}
		if in.OrderBy == "LastEventTime" && last(a) != last(b) {
			return last(a) < last(b)
		}
		return a.Name < b.Name
	})
	// Tokens are offsets here: the order is not by name alone.
	start := 0
	if in.NextToken != "" {
		n, err := strconv.Atoi(in.NextToken)
		if err != nil || n < 0 || n > len(streams) {
			return nil, invalidParam("The specified nextToken is invalid.")
		}
		start = n
	}
	limit := in.Limit
	if limit <= 0 || limit > 50 {
		limit = 50
	}
	end := min(start+limit, len(streams))
	out := struct {
		LogStreams []logStreamOut `json:"logStreams"`
		NextToken  string         `json:"nextToken,omitempty"`
	}{LogStreams: []logStreamOut{}}
	for _, st := range streams[start:end] {
		o := logStreamOut{LogStreamName: st.Name, CreationTime: st.Created,
			Arn: GroupARN(name, false) + ":log-stream:" + st.Name}
		if len(st.Events) > 0 {
			o.FirstEventTimestamp = st.Events[0].Timestamp
			o.LastEventTimestamp = last(st)
			o.LastIngestionTime = st.Events[len(st.Events)-1].Ingested
			for _, e := range st.Events {
				o.StoredBytes += int64(len(e.Message))
			}
		}
		out.LogStreams = append(out.LogStreams, o)
	}
	if end < len(streams) {
		out.NextToken = strconv.Itoa(end)
	}
	return out, nil
}

type inputEvent struct {
	Timestamp *int64  `json:"timestamp"`
	Message   *string `json:"message"`
}

func (s *Service) putLogEvents(_ context.Context, body []byte) (any, error) {
	var in struct {
		LogGroupName, LogStreamName string
		LogEvents                   []inputEvent
	}
	if err := core.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	if len(in.LogEvents) == 0 || len(in.LogEvents) > 10000 {
		return nil, invalidParam("1 validation error detected: Value at 'logEvents' failed to satisfy constraint: Member must have length less than or equal to 10000 and greater than or equal to 1")
	}
	for i, e := range in.LogEvents {
		if e.Timestamp == nil || e.Message == nil || *e.Message == "" {
			return nil, invalidParam("1 validation error detected: Value at 'logEvents.%d' failed to satisfy constraint: timestamp and a non-empty message are required", i+1)
		}
		if i > 0 && *e.Timestamp < *in.LogEvents[i-1].Timestamp {
			return nil, invalidParam("Log events in a single PutLogEvents request must be in chronological order.")
		}
	}
	if span := *in.LogEvents[len(in.LogEvents)-1].Timestamp - *in.LogEvents[0].Timestamp; span > 24*time.Hour.Milliseconds() {
		return nil, invalidParam("The batch of log events in a single PutLogEvents request cannot span more than 24 hours.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[in.LogGroupName]
	if g == nil {
		return nil, groupNotFound()
	}
	st := g.Streams[in.LogStreamName]
	if st == nil {
		return nil, streamNotFound()
	}
	now := s.millis()
	tooNew, tooOld := -1, -1
	for i, e := range in.LogEvents {
		switch {
		case *e.Timestamp > now+2*time.Hour.Milliseconds():
			if tooNew < 0 {
				tooNew = i
			}
			continue
		case *e.Timestamp < now-14*24*time.Hour.Milliseconds():
			tooOld = i
			continue
		}
		s.appendLocked(st, *e.Timestamp, now, *e.Message)
	}
	out := map[string]any{"nextSequenceToken": strconv.FormatInt(s.seq, 10)}
	if tooNew >= 0 || tooOld >= 0 {
		info := map[string]int{}
		if tooNew >= 0 {
			info["tooNewLogEventStartIndex"] = tooNew
		}
		if tooOld >= 0 {
			info["tooOldLogEventEndIndex"] = tooOld
		}
		out["rejectedLogEventsInfo"] = info
	}
	return out, nil
}

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

type outputEvent struct {
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
}

func (s *Service) getLogEvents(_ context.Context, body []byte) (any, error) {
	var in struct {
		LogGroupName, LogGroupIdentifier, LogStreamName, NextToken string
		StartTime, EndTime                                         *int64
		Limit                                                      int
		StartFromHead                                              *bool
	}
	if err := core.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	name, err := groupName(in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	limit := in.Limit
	if limit < 0 || limit > defaultLimit {
		return nil, invalidParam("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 10000", limit)
	}
	if limit == 0 {
		limit = defaultLimit
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[name]
	if g == nil {
		return nil, groupNotFound()
	}
	st := g.Streams[in.LogStreamName]
	if st == nil {
		return nil, streamNotFound()
	}
	// Window of events in range, as indexes into st.Events.
	lo, hi := 0, len(st.Events)
	for lo < hi && in.StartTime != nil && st.Events[lo].Timestamp < *in.StartTime {
		lo++
	}
	for hi > lo && in.EndTime != nil && st.Events[hi-1].Timestamp >= *in.EndTime {
		hi--
	}
	// Tokens are "f/<index>" (read forward from index) and "b/<index>" (read
	// backward, ending before index), like AWS's opaque f/… b/… tokens.
	forward := in.StartFromHead != nil && *in.StartFromHead
	var from, to int
	switch {
	case in.NextToken == "":
		if forward {
			from, to = lo, min(lo+limit, hi)
		} else {
			from, to = max(hi-limit, lo), hi
		}
	default:
		dir, idx, ok := strings.Cut(in.NextToken, "/")
		n, err := strconv.Atoi(idx)
		if !ok || err != nil || n < 0 || (dir != "f" && dir != "b") {
			return nil, invalidParam("The specified nextToken is invalid.")
		}
		n = max(min(n, hi), lo)
		if dir == "f" {
			from, to = n, min(n+limit, hi)
		} else {
			from, to = max(n-limit, lo), n
		}
	}
	out := struct {
		Events            []outputEvent `json:"events"`
		NextForwardToken  string        `json:"nextForwardToken"`
		NextBackwardToken string        `json:"nextBackwardToken"`
	}{Events: []outputEvent{}, NextForwardToken: "f/" + strconv.Itoa(to), NextBackwardToken: "b/" + strconv.Itoa(from)}
	for _, e := range st.Events[from:to] {
		out.Events = append(out.Events, outputEvent{e.Timestamp, e.Message, e.Ingested})
	}
	return out, nil
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
	s.mu.Lock()
	defer s.mu.Unlock()
	return json.Marshal(snapshot{Groups: core.SortedValues(s.groups), Seq: s.seq})
}

// Restore replaces the state with that of a Snapshot.
func (s *Service) Restore(data []byte) error {
	var snap snapshot
	if err := json.Unmarshal(data, &snap); err != nil {
		return fmt.Errorf("logs: restore: %w", err)
	}
	groups := map[string]*group{}
	for _, g := range snap.Groups {
		if g.Streams == nil {
			g.Streams = map[string]*stream{}
		}
		groups[g.Name] = g
	}
	s.mu.Lock()
	s.groups, s.seq = groups, snap.Seq
	s.mu.Unlock()
	return nil
}
