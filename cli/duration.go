package cli

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// day is the unit a duration flag takes beyond Go's: a trail is read back
// weeks ("--since 7d"), which in hours is 168h.
const day = 24 * time.Hour

// durationVar defines a duration flag that takes whole days ("7d",
// "1d12h") as well as time.ParseDuration's forms; every duration flag of
// the CLI is one, so they all read the same.
func durationVar(fs *pflag.FlagSet, p *time.Duration, name string, value time.Duration, usage string) {
	*p = value
	fs.Var(durationFlag{p}, name, usage)
}

type durationFlag struct{ d *time.Duration }

func (f durationFlag) Type() string { return "duration" }

// String shows whole days in days; 0 as "0", which help leaves out as a
// zero default.
func (f durationFlag) String() string {
	switch d := *f.d; {
	case d == 0:
		return "0"
	case d%day == 0:
		return fmt.Sprintf("%dd", d/day)
	default:
		return d.String()
	}
}

func (f durationFlag) Set(s string) error {
	d, err := parseDuration(s)
	if err != nil {
		return err
	}
	*f.d = d
	return nil
}

// parseDuration reads whole days, then optionally a Go duration: "7d",
// "1d12h", "90m". (Cobra names the flag in front of its error.)
func parseDuration(s string) (time.Duration, error) {
	bad := fmt.Errorf("%q is not a duration: use a number and a unit, as 90s, 15m or 24h, or whole days, as 7d or 1d12h", s)
	days, rest, ok := strings.Cut(s, "d")
	if !ok {
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, bad
		}
		return d, nil
	}
	n, err := strconv.ParseUint(days, 10, 64)
	if err != nil || n > uint64(math.MaxInt64/int64(day)) {
		return 0, bad
	}
	d := time.Duration(n) * day
	if rest != "" {
		r, err := time.ParseDuration(rest)
		if err != nil || r < 0 || r > math.MaxInt64-d {
			return 0, bad
		}
		d += r
	}
	return d, nil
}
