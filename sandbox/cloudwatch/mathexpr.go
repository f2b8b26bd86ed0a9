package cwsvc

// Metric math for alarms ("Using math expressions with CloudWatch metrics",
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html):
// only the grammar aliasflow's alarms use — metric ids, number literals,
// + - * /, the comparisons >= > <= < == != and IF(condition, a, b). Any
// other function, operator or token is refused by name, so an alarm the
// sandbox cannot evaluate as CloudWatch would never starts.

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// checkMathAlarm validates a metric math alarm's Metrics as PutMetricAlarm
// does (CloudWatch API Reference, PutMetricAlarm and MetricDataQuery,
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html): no
// single-metric parameters beside them, unique ids, each query a
// MetricStat or an Expression, exactly one ReturnData true (an omitted
// ReturnData is true, as in GetMetricData) — plus what the sandbox needs to
// evaluate it: the supported grammar, known ids without cycles, and one
// period for all metrics.
func checkMathAlarm(in PutMetricAlarmInput) error {
	if in.MetricName != "" || in.Namespace != "" || in.Statistic != "" || len(in.Dimensions) > 0 || in.Period != 0 || in.Unit != "" {
		return errorf("InvalidParameterCombinationException", "InvalidParameterCombination", 400,
			"Metrics cannot be specified together with MetricName, Namespace, Dimensions, Period, Unit or Statistic.")
	}
	queries := map[string]MetricDataQuery{}
	exprs := map[string]mathExpr{}
	returned, period := 0, int32(0)
	for i, q := range in.Metrics {
		at := fmt.Sprintf("Metrics.member.%d", i+1)
		switch {
		case !queryIDRE.MatchString(q.Id):
			return validation("The value %q for parameter %s.Id is invalid: it must start with a lowercase letter and contain only letters, digits and underscores.", q.Id, at)
		case queries[q.Id].Id != "":
			return validation("The values for parameter Id in Metrics are not unique: %s.", q.Id)
		case q.AccountId != "":
			return invalidValue("%s.AccountId (cross-account alarms) is not supported by the aliasflow sandbox", at)
		case q.MetricStat != nil && q.Expression != "":
			return validation("%s: exactly one of MetricStat and Expression must be specified.", at)
		case q.MetricStat == nil && q.Expression == "":
			return missing(at + ".MetricStat or " + at + ".Expression")
		}
		queries[q.Id] = q
		if q.ReturnData == nil || *q.ReturnData {
			returned++
		}
		if q.Expression != "" {
			e, err := parseMathExpr(q.Expression)
			if err != nil {
				return invalidValue("%s.Expression %q: %v", at, q.Expression, err)
			}
			exprs[q.Id] = e
			continue
		}
		ms := q.MetricStat
		switch {
		case ms.Metric == nil || ms.Metric.Namespace == "" || ms.Metric.MetricName == "":
			return missing(at + ".MetricStat.Metric (Namespace and MetricName)")
		case !validStats[ms.Stat]:
			return invalidValue("%s.MetricStat.Stat %q: the sandbox supports Sum, Average, Minimum, Maximum and SampleCount", at, ms.Stat)
		case !validPeriod(ms.Period):
			return validation("The parameter %s.MetricStat.Period must be 10, 30 or a multiple of 60.", at)
		case period != 0 && ms.Period != period:
			return invalidValue("%s.MetricStat.Period %d: the aliasflow sandbox evaluates math alarms whose metrics share one period (%d)", at, ms.Period, period)
		}
		period = ms.Period
	}
	switch {
	case returned != 1:
		return validation("Exactly one element of the Metrics list must have ReturnData set to true (%d have).", returned)
	case period == 0:
		return missing("Metrics: at least one MetricStat")
	}
	for id, e := range exprs {
		for _, ref := range e.refs(nil) {
			if _, ok := queries[ref]; !ok {
				return invalidValue("the expression %s refers to %s, which is no id in Metrics", id, ref)
			}
		}
		if cycle := cycleFrom(id, exprs, nil); cycle != nil {
			return invalidValue("the expressions in Metrics refer to each other in a cycle: %s", strings.Join(cycle, " -> "))
		}
	}
	return nil
}

// cycleFrom is a path of expression ids from id back to one on path, or
// nil.
func cycleFrom(id string, exprs map[string]mathExpr, path []string) []string {
	if slices.Contains(path, id) {
		return append(path, id)
	}
	e, ok := exprs[id]
	if !ok {
		return nil
	}
	for _, ref := range e.refs(nil) {
		if c := cycleFrom(ref, exprs, append(path[:len(path):len(path)], id)); c != nil {
			return c
		}
	}
	return nil
}

// mathDatapointsLocked are a math alarm's datapoints in its last
// EvaluationPeriods periods, oldest first: the ReturnData expression at
// each period in which one of its metrics has data. A period where the
// expression has no value (an input without data, a division by zero)
// has no datapoint, and TreatMissingData decides.
func (s *Service) mathDatapointsLocked(a *MetricAlarm, now time.Time) []float64 {
	var ret string
	exprs := map[string]mathExpr{}
	stats := map[string]*MetricStat{}
	lambda := false
	for _, q := range a.Metrics {
		if q.ReturnData == nil || *q.ReturnData {
			ret = q.Id
		}
		if q.MetricStat != nil {
			stats[q.Id] = q.MetricStat
			lambda = lambda || q.MetricStat.Metric.Namespace == lambdaNamespace
		} else if e, err := parseMathExpr(q.Expression); err == nil { // checked by PutMetricAlarm
			exprs[q.Id] = e
		}
	}
	var period time.Duration
	for _, ms := range stats {
		period = time.Duration(ms.Period) * time.Second // one period, checked by PutMetricAlarm
	}
	start, end := s.windowLocked(now, period, a.EvaluationPeriods, lambda)
	values := map[string]map[time.Time]float64{}
	stamps := map[time.Time]bool{}
	for id, ms := range stats {
		m := ms.Metric
		values[id] = map[time.Time]float64{}
		for _, b := range aggregate(s.readableLocked(s.series[seriesKey(m.Namespace, m.MetricName, m.Dimensions)], now), start, end, period) {
			values[id][b.start], _ = b.value(ms.Stat)
			stamps[b.start] = true
		}
	}
	order := make([]time.Time, 0, len(stamps))
	for t := range stamps {
		order = append(order, t)
	}
	sort.Slice(order, func(i, j int) bool { return order[i].Before(order[j]) })
	var out []float64
	for _, t := range order {
		var lookup func(id string) (float64, bool)
		lookup = func(id string) (float64, bool) {
			if e, ok := exprs[id]; ok {
				return e.eval(lookup) // acyclic, checked by PutMetricAlarm
			}
			v, ok := values[id][t]
			return v, ok
		}
		if v, ok := lookup(ret); ok {
			out = append(out, v)
		}
	}
	return out
}

// mathExpr is a parsed expression, evaluated one period at a time.
type mathExpr interface {
	// eval is the expression's value for one period; false when it has
	// none (an input without a datapoint, a division by zero), as a
	// metric math time series has no datapoint there.
	eval(lookup func(id string) (float64, bool)) (float64, bool)
	// refs appends the metric ids the expression reads.
	refs(ids []string) []string
}

type numberExpr float64

type refExpr string

type binaryExpr struct {
	op   string
	l, r mathExpr
}

type ifExpr struct{ cond, then, els mathExpr }

type negExpr struct{ x mathExpr }

func (n numberExpr) eval(func(string) (float64, bool)) (float64, bool) { return float64(n), true }
func (numberExpr) refs(ids []string) []string                          { return ids }

func (r refExpr) eval(lookup func(string) (float64, bool)) (float64, bool) { return lookup(string(r)) }
func (r refExpr) refs(ids []string) []string                               { return append(ids, string(r)) }

func (n negExpr) eval(lookup func(string) (float64, bool)) (float64, bool) {
	v, ok := n.x.eval(lookup)
	return -v, ok
}
func (n negExpr) refs(ids []string) []string { return n.x.refs(ids) }

func (b binaryExpr) eval(lookup func(string) (float64, bool)) (float64, bool) {
	l, ok := b.l.eval(lookup)
	if !ok {
		return 0, false
	}
	r, ok := b.r.eval(lookup)
	if !ok {
		return 0, false
	}
	truth := func(c bool) (float64, bool) {
		if c {
			return 1, true
		}
		return 0, true
	}
	switch b.op {
	case "+":
		return l + r, true
	case "-":
		return l - r, true
	case "*":
		return l * r, true
	case "/":
		if r == 0 {
			return 0, false
		}
		return l / r, true
	case ">=":
		return truth(l >= r)
	case ">":
		return truth(l > r)
	case "<=":
		return truth(l <= r)
	case "<":
		return truth(l < r)
	case "==":
		return truth(l == r)
	default: // "!=", the parser makes no other
		return truth(l != r)
	}
}
func (b binaryExpr) refs(ids []string) []string { return b.r.refs(b.l.refs(ids)) }

// eval evaluates only the branch the condition picks, so
// IF(invocations >= 100, errors / invocations, 0) has a value in a minute
// without calls.
func (e ifExpr) eval(lookup func(string) (float64, bool)) (float64, bool) {
	c, ok := e.cond.eval(lookup)
	if !ok {
		return 0, false
	}
	if c != 0 {
		return e.then.eval(lookup)
	}
	return e.els.eval(lookup)
}
func (e ifExpr) refs(ids []string) []string { return e.els.refs(e.then.refs(e.cond.refs(ids))) }

// parseMathExpr parses a metric math expression of the supported grammar:
//
//	expr    = sum [ ( ">=" | ">" | "<=" | "<" | "==" | "!=" ) sum ]
//	sum     = product { ( "+" | "-" ) product }
//	product = unary { ( "*" | "/" ) unary }
//	unary   = [ "-" ] primary
//	primary = number | id | "IF" "(" expr "," expr "," expr ")" | "(" expr ")"
func parseMathExpr(src string) (mathExpr, error) {
	p := &mathParser{toks: lexMath(src)}
	e, err := p.expr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t != "" {
		return nil, unexpected(t, "after the end of the expression")
	}
	return e, nil
}

// unexpected explains a token that cannot stand where it is: an operator
// or keyword outside the supported grammar by name.
func unexpected(t, where string) error {
	r := rune(t[0])
	switch {
	case !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_' && r != '.' && !slices.Contains(mathOperators, t):
		return fmt.Errorf("the operator %s is not supported by the aliasflow sandbox (supported: + - * / >= > <= < == != and IF)", t)
	case unicode.IsUpper(r) && strings.ToUpper(t) == t:
		// AND, OR, NOT and the like; metric ids start lower-case.
		return fmt.Errorf("the keyword %s is not supported by the aliasflow sandbox", t)
	}
	return fmt.Errorf("unexpected %q %s", t, where)
}

var mathOperators = []string{">=", "<=", "==", "!=", ">", "<", "+", "-", "*", "/", "(", ")", ","}

// lexMath splits an expression into tokens: numbers, words and the
// supported operators. A run of any other characters (^, &&, the string
// literals of SEARCH) is one token the parser refuses where it meets it,
// so FILL(...) or SEARCH('...') is refused by its function's name.
func lexMath(src string) []string {
	var toks []string
	for i := 0; i < len(src); {
		c := rune(src[i])
		switch {
		case unicode.IsSpace(c):
			i++
		case c >= '0' && c <= '9' || c == '.':
			j := i
			for j < len(src) && (src[j] >= '0' && src[j] <= '9' || src[j] == '.') {
				j++
			}
			toks = append(toks, src[i:j])
			i = j
		case c == '_' || unicode.IsLetter(c):
			j := i
			for j < len(src) && (src[j] == '_' || unicode.IsLetter(rune(src[j])) || src[j] >= '0' && src[j] <= '9') {
				j++
			}
			toks = append(toks, src[i:j])
			i = j
		default:
			op := ""
			for _, o := range mathOperators {
				if strings.HasPrefix(src[i:], o) {
					op = o
					break
				}
			}
			if op == "" {
				op = src[i:]
				if n := strings.IndexFunc(op, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsLetter(r) || unicode.IsDigit(r) }); n > 0 {
					op = op[:n]
				}
			}
			toks = append(toks, op)
			i += len(op)
		}
	}
	return toks
}

type mathParser struct {
	toks []string
	pos  int
}

func (p *mathParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *mathParser) next() string {
	t := p.peek()
	p.pos++
	return t
}

func (p *mathParser) expect(tok string) error {
	if t := p.next(); t != tok {
		if t == "" {
			return fmt.Errorf("expected %q, the expression ends", tok)
		}
		return fmt.Errorf("expected %q, found %q", tok, t)
	}
	return nil
}

func (p *mathParser) expr() (mathExpr, error) {
	l, err := p.sum()
	if err != nil {
		return nil, err
	}
	switch op := p.peek(); op {
	case ">=", ">", "<=", "<", "==", "!=":
		p.next()
		r, err := p.sum()
		if err != nil {
			return nil, err
		}
		return binaryExpr{op, l, r}, nil
	}
	return l, nil
}

func (p *mathParser) sum() (mathExpr, error) {
	l, err := p.product()
	for err == nil && (p.peek() == "+" || p.peek() == "-") {
		op := p.next()
		var r mathExpr
		if r, err = p.product(); err == nil {
			l = binaryExpr{op, l, r}
		}
	}
	return l, err
}

func (p *mathParser) product() (mathExpr, error) {
	l, err := p.unary()
	for err == nil && (p.peek() == "*" || p.peek() == "/") {
		op := p.next()
		var r mathExpr
		if r, err = p.unary(); err == nil {
			l = binaryExpr{op, l, r}
		}
	}
	return l, err
}

func (p *mathParser) unary() (mathExpr, error) {
	if p.peek() == "-" {
		p.next()
		x, err := p.primary()
		return negExpr{x}, err
	}
	return p.primary()
}

func (p *mathParser) primary() (mathExpr, error) {
	t := p.next()
	switch {
	case t == "":
		return nil, fmt.Errorf("the expression ends where a value is expected")
	case t == "(":
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		return e, p.expect(")")
	case t[0] >= '0' && t[0] <= '9' || t[0] == '.':
		v, err := strconv.ParseFloat(t, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", t)
		}
		return numberExpr(v), nil
	case p.peek() == "(":
		if t != "IF" {
			return nil, fmt.Errorf("the function %s is not supported by the aliasflow sandbox (supported: IF)", t)
		}
		p.next()
		var args [3]mathExpr
		for i := range args {
			if i > 0 {
				if err := p.expect(","); err != nil {
					return nil, fmt.Errorf("IF takes three arguments: %w", err)
				}
			}
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			args[i] = e
		}
		if err := p.expect(")"); err != nil {
			return nil, fmt.Errorf("IF takes three arguments: %w", err)
		}
		return ifExpr{args[0], args[1], args[2]}, nil
	case queryIDRE.MatchString(t):
		return refExpr(t), nil
	case unicode.IsLetter(rune(t[0])) && !unicode.IsUpper(rune(t[0])) || t[0] == '_':
		return nil, fmt.Errorf("%q is not a metric id (ids start with a lower-case letter and hold letters, digits and underscores)", t)
	}
	return nil, unexpected(t, "where a value is expected")
}
