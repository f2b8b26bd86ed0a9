package quota

import (
	"testing"
	"time"
)

func TestBuckets(t *testing.T) {
	// Step Functions' ListExecutions: bucket 100, refill 2/s in all other
	// Regions; 200 and 5/s in the large ones ("Step Functions service
	// quotas"). A burst drains the bucket; each second refills the rate.
	cases := []struct {
		name, region, service, op string
		burst                     int // requests at once that pass
		perSecondAfter            int // then passing per second
	}{
		{"ListExecutions outside the large Regions", "eu-central-1", "states", "ListExecutions", 100, 2},
		{"ListExecutions in us-east-1", "us-east-1", "states", "ListExecutions", 200, 5},
		{"FilterLogEvents", "eu-central-1", "logs", "FilterLogEvents", 5, 5},
		{"DescribeAlarms", "eu-central-1", "monitoring", "DescribeAlarms", 9, 9},
		{"a Lambda control-plane call", "eu-central-1", "lambda", "UpdateAlias", 15, 15},
		{"GetParameters shares GetParameter's bucket", "eu-central-1", "ssm", "GetParameters", 40, 40},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
			l := New(Default(), func() time.Time { return at })
			passed := func(n int) int {
				ok := 0
				for range n {
					if l.Take("123456789012", c.region, c.service, c.op).Allowed {
						ok++
					}
				}
				return ok
			}
			if got := passed(c.burst + 10); got != c.burst {
				t.Errorf("burst: %d passed, want %d", got, c.burst)
			}
			at = at.Add(time.Second)
			if got := passed(c.perSecondAfter + 10); got != c.perSecondAfter {
				t.Errorf("a second later: %d passed, want %d", got, c.perSecondAfter)
			}
			// Another account has its own bucket.
			if !l.Take("210987654321", c.region, c.service, c.op).Allowed {
				t.Errorf("another account's first call was throttled")
			}
		})
	}
}

func TestUnmeteredOperations(t *testing.T) {
	l := New(Default(), nil)
	for _, c := range []struct{ service, op string }{{"lambda", "Invoke"}, {"sts", "GetCallerIdentity"}, {"logs", "PutLogEvents"}} {
		for range 100 {
			if d := l.Take("123456789012", "eu-central-1", c.service, c.op); !d.Allowed || d.Metered {
				t.Fatalf("%s %s = %+v, want allowed and not metered", c.service, c.op, d)
			}
		}
	}
}

func TestDefaultsCiteTheirPage(t *testing.T) {
	for _, r := range Default() {
		if r.Source == "" || r.Rate <= 0 || r.Burst < r.Rate && r.Large == nil {
			t.Errorf("rule %+v: want a source page, a rate and a bucket of at least a second", r)
		}
	}
}
