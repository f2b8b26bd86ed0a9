package cwsvc

import (
	"math"
	"sort"
	"strings"
	"time"
)

// Dimension is a metric dimension.
type Dimension struct {
	Name  string
	Value string
}

// maxSeriesPoints bounds memory: a series keeps its newest samples only.
const maxSeriesPoints = 100000

type sample struct {
	T time.Time
	V float64
}

// seriesKey identifies a metric: namespace, name and the exact dimension
// set (CloudWatch treats each combination of dimensions as its own metric).
func seriesKey(namespace, metric string, dims []Dimension) string {
	parts := make([]string, 0, len(dims))
	for _, d := range dims {
		parts = append(parts, d.Name+"="+d.Value)
	}
	sort.Strings(parts)
	return namespace + "\x00" + metric + "\x00" + strings.Join(parts, "\x00")
}

// stats aggregates the samples of one period.
type stats struct {
	count, sum, min, max float64
}

func (s *stats) add(v float64) {
	if s.count == 0 || v < s.min {
		s.min = v
	}
	if s.count == 0 || v > s.max {
		s.max = v
	}
	s.count++
	s.sum += v
}

func (s stats) value(stat string) (float64, bool) {
	switch stat {
	case "Sum":
		return s.sum, true
	case "Average":
		return s.sum / s.count, true
	case "Minimum":
		return s.min, true
	case "Maximum":
		return s.max, true
	case "SampleCount":
		return s.count, true
	}
	return math.NaN(), false
}

var validStats = map[string]bool{"Sum": true, "Average": true, "Minimum": true, "Maximum": true, "SampleCount": true}

// bucket is one period's aggregate.
type bucket struct {
	start time.Time
	stats
}

// aggregate groups samples in [start, end) into periods aligned to the
// epoch, oldest first; periods without samples are absent, as in CloudWatch.
func aggregate(samples []sample, start, end time.Time, period time.Duration) []bucket {
	byStart := map[int64]*bucket{}
	for _, s := range samples {
		if s.T.Before(start) || !s.T.Before(end) {
			continue
		}
		b0 := s.T.Truncate(period)
		b := byStart[b0.UnixNano()]
		if b == nil {
			b = &bucket{start: b0.UTC()}
			byStart[b0.UnixNano()] = b
		}
		b.add(s.V)
	}
	out := make([]bucket, 0, len(byStart))
	for _, b := range byStart {
		out = append(out, *b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].start.Before(out[j].start) })
	return out
}
