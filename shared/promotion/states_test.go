package promotion

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
)

// definitionPath is the promotion definition, relative to this package.
const definitionPath = "../../infra/statemachine/promotion.asl.json"

type aslState struct {
	Type               string         `json:"Type"`
	Resource           string         `json:"Resource"`
	Parameters         aslParameters  `json:"Parameters"`
	ResultSelector     map[string]any `json:"ResultSelector"`
	ResultPath         *string        `json:"ResultPath"`
	TimeoutSecondsPath string         `json:"TimeoutSecondsPath"`
	Next               string         `json:"Next"`
	Default            string         `json:"Default"`
	Choices            []aslChoice    `json:"Choices"`
	Catch              []aslCatch     `json:"Catch"`
	Retry              []aslCatch     `json:"Retry"`
	Error              string         `json:"Error"`
}

type aslParameters struct {
	Payload map[string]any `json:"Payload"`
}

type aslChoice struct {
	Variable string `json:"Variable"`
	Next     string `json:"Next"`
}

type aslCatch struct {
	ErrorEquals []string `json:"ErrorEquals"`
	ResultPath  string   `json:"ResultPath"`
	Next        string   `json:"Next"`
}

type aslDefinition struct {
	StartAt string              `json:"StartAt"`
	States  map[string]aslState `json:"States"`
}

func loadDefinition(t *testing.T) aslDefinition {
	t.Helper()
	raw, err := os.ReadFile(definitionPath)
	if err != nil {
		t.Fatalf("read the definition: %v", err)
	}
	var d aslDefinition
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s: %v", definitionPath, err)
	}
	return d
}

func (s aslState) next() []string {
	var out []string
	for _, n := range append([]string{s.Next, s.Default}, func() []string {
		var c []string
		for _, ch := range s.Choices {
			c = append(c, ch.Next)
		}
		for _, ct := range s.Catch {
			c = append(c, ct.Next)
		}
		return c
	}()...) {
		if n != "" {
			out = append(out, n)
		}
	}
	return out
}

// reachable is every state reachable from start without passing avoid.
func (d aslDefinition) reachable(start, avoid string) map[string]bool {
	seen := map[string]bool{}
	var walk func(string)
	walk = func(n string) {
		if n == avoid || seen[n] {
			return
		}
		seen[n] = true
		for _, m := range d.States[n].next() {
			walk(m)
		}
	}
	walk(start)
	return seen
}

// fieldPath resolves a JSONPath like "$.shift.done" against the JSON fields
// of t; it reports the Go type it lands on.
func fieldPath(t reflect.Type, path string) (reflect.Type, bool) {
	if path == "$" {
		return t, true
	}
	rest, ok := strings.CutPrefix(path, "$.")
	if !ok {
		return nil, false
	}
	for _, name := range strings.Split(rest, ".") {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return nil, false
		}
		f, ok := jsonField(t, name)
		if !ok {
			return nil, false
		}
		t = f
	}
	return t, true
}

func jsonField(t reflect.Type, name string) (reflect.Type, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && tag == "" {
			if ft, ok := jsonField(f.Type, name); ok {
				return ft, true
			}
			continue
		}
		if tag == name {
			return f.Type, true
		}
	}
	return nil, false
}

// unreadPaths are paths the definition writes that no Go code reads.
var unreadPaths = map[string]bool{
	// Abort's own failure to record, kept for the console only.
	"$.auditFailure": true,
	// Rollback's own failure, ending in RollbackFailed.
	"$.rollbackFailure": true,
}

// TestDefinitionContract holds the Go side of the workflow to the
// definition: every state name, its stage relative to BeginShift, every
// task's action, the waitForTaskToken states, and every path the
// definition reads from or writes to the State document.
func TestDefinitionContract(t *testing.T) {
	d := loadDefinition(t)

	t.Run("state names", func(t *testing.T) {
		var inDef, inGo []string
		for n := range d.States {
			inDef = append(inDef, n)
		}
		for n := range States {
			inGo = append(inGo, n)
		}
		sort.Strings(inDef)
		sort.Strings(inGo)
		if !slices.Equal(inDef, inGo) {
			t.Errorf("states of the definition %v\n  != promotion.States %v", inDef, inGo)
		}
		for n, s := range d.States {
			if s.Type == "Fail" && s.Error != n {
				t.Errorf("Fail state %s ends with the error %q; Go reads the state name as the error", n, s.Error)
			}
		}
		if d.StartAt != StateMode {
			t.Errorf("StartAt = %q, want %q", d.StartAt, StateMode)
		}
		// Mode sends an execution with input.rollback to ManualRollback and
		// every other to the promotion.
		mode := d.States[StateMode]
		if mode.Type != "Choice" || mode.Default != StateSmokeTest || len(mode.Choices) != 1 ||
			mode.Choices[0].Variable != "$.rollback" || mode.Choices[0].Next != StateManualRollback {
			t.Errorf("Mode = %+v, want a Choice: $.rollback → %s, default %s", mode, StateManualRollback, StateSmokeTest)
		}
	})

	t.Run("stages", func(t *testing.T) {
		// Before BeginShift: reachable from the start without it, and not
		// reachable from BeginShift. Shift: reachable from BeginShift only.
		// A manual rollback moves prod from its first task: it counts as
		// shifting.
		manual := d.reachable(StateManualRollback, "")
		beforeShift := d.reachable(d.StartAt, StateBeginShift)
		afterShift := d.reachable(StateBeginShift, "")
		for n := range manual {
			delete(beforeShift, n)
			afterShift[n] = true
		}
		if afterShift[StateSmokeTest] || d.reachable(StateManualRollback, "")[StateBeginShift] {
			t.Errorf("a manual rollback and a promotion share states")
		}
		for n, stage := range States {
			var want Stage
			switch {
			case beforeShift[n] && afterShift[n]:
				want = StageEither
			case beforeShift[n]:
				want = StageBeforeShift
			case afterShift[n]:
				want = StageShift
			}
			if stage != want {
				t.Errorf("stage of %s = %d, the definition makes it %d", n, stage, want)
			}
		}
	})

	t.Run("task actions and wait states", func(t *testing.T) {
		var waits []string
		for n, s := range d.States {
			if s.Type != "Task" {
				continue
			}
			action, _ := s.Parameters.Payload["action"].(string)
			if want, ok := TaskActions[n]; !ok || action != want {
				t.Errorf("task %s sends action %q; promotion.TaskActions has %q", n, action, want)
			}
			if strings.HasSuffix(s.Resource, ".waitForTaskToken") {
				waits = append(waits, n)
			}
			for key := range s.Parameters.Payload {
				field := strings.TrimSuffix(key, ".$")
				if _, ok := jsonField(reflect.TypeFor[TaskRequest](), field); !ok {
					t.Errorf("task %s sends payload field %q, which TaskRequest does not read", n, field)
				}
			}
		}
		for n := range TaskActions {
			if d.States[n].Type != "Task" {
				t.Errorf("promotion.TaskActions names %s, which is not a Task state", n)
			}
		}
		sort.Strings(waits)
		want := slices.Sorted(slices.Values(WaitStates))
		if !slices.Equal(waits, want) {
			t.Errorf("waitForTaskToken states %v, promotion.WaitStates %v", waits, want)
		}
	})

	t.Run("result paths", func(t *testing.T) {
		for n, s := range d.States {
			got := ""
			if s.ResultPath != nil {
				got = *s.ResultPath
			}
			if want, ok := ResultPaths[n]; ok && got != want {
				t.Errorf("%s ResultPath = %q, Go reads the result at %q", n, got, want)
			}
			if _, ok := ResultPaths[n]; !ok && s.Type == "Task" && s.ResultPath != nil {
				t.Errorf("%s puts its result at %q, which promotion.ResultPaths does not list", n, got)
			}
		}
		for n := range ResultPaths {
			if _, ok := d.States[n]; !ok {
				t.Errorf("promotion.ResultPaths names %s, which the definition lacks", n)
			}
		}
	})

	// Step Functions, "Handle Lambda service exceptions"
	// (https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html):
	// retry Lambda.ClientExecutionTimeoutException, Lambda.ServiceException,
	// Lambda.AWSLambdaException and Lambda.SdkClientException; an unhandled
	// error (a timeout, out of memory) is Lambda.Unknown; hitting the
	// concurrency limit is Lambda.TooManyRequestsException. Every Lambda
	// task retries them all, and the task errors aliasflow names transient.
	t.Run("retries", func(t *testing.T) {
		transient := []string{"Lambda.ClientExecutionTimeoutException", "Lambda.ServiceException", "Lambda.AWSLambdaException",
			"Lambda.SdkClientException", "Lambda.TooManyRequestsException", "Lambda.Unknown", ErrTransient}
		for n, s := range d.States {
			if s.Type != "Task" {
				continue
			}
			var retried []string
			for _, r := range s.Retry {
				retried = append(retried, r.ErrorEquals...)
			}
			for _, e := range transient {
				if !slices.Contains(retried, e) && !slices.Contains(retried, "States.ALL") {
					t.Errorf("%s does not retry %s", n, e)
				}
			}
			for _, e := range retried {
				if strings.HasPrefix(e, "Runtime.") || strings.HasPrefix(e, "Sandbox.") {
					t.Errorf("%s retries %s, a name Step Functions never reports (it says Lambda.Unknown)", n, e)
				}
			}
		}
	})

	// The shift task's result is its progress: a field BeginShift or
	// CheckHealth returns but the ResultSelector leaves out never reaches
	// the next task (the probes counted at 0 %, the log and probe
	// progress, the count of bakes that bounds the history). Each is
	// picked, and always present in the payload: a ResultSelector path to
	// a key the payload lacks fails the state (States.Runtime).
	t.Run("the shift's progress survives its ResultSelector", func(t *testing.T) {
		shift := reflect.TypeFor[Shift]()
		for n, s := range d.States {
			if s.ResultSelector == nil || s.ResultPath == nil || *s.ResultPath != "$."+ResultShift {
				continue
			}
			for i := range shift.NumField() {
				name, opts, _ := strings.Cut(shift.Field(i).Tag.Get("json"), ",")
				if name == "verdict" && n == StateBeginShift {
					continue // begin judges nothing
				}
				if v, ok := s.ResultSelector[name+".$"]; !ok || v != "$.Payload."+name {
					t.Errorf("%s ResultSelector drops %q of the Shift its task returns (picks %v)", n, name, s.ResultSelector[name+".$"])
				}
				if strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero") {
					t.Errorf("Shift.%s is %q: an empty value leaves the key out and %s's ResultSelector fails on it", shift.Field(i).Name, opts, n)
				}
			}
		}
	})

	t.Run("paths resolve in State", func(t *testing.T) {
		state := reflect.TypeFor[State]()
		check := func(where, path string) {
			if path == "" || unreadPaths[path] {
				return
			}
			if _, ok := fieldPath(state, path); !ok {
				t.Errorf("%s: %q is no JSON field of promotion.State", where, path)
			}
		}
		for n, s := range d.States {
			if s.ResultPath != nil {
				check(n+" ResultPath", *s.ResultPath)
			}
			check(n+" TimeoutSecondsPath", s.TimeoutSecondsPath)
			for _, c := range s.Choices {
				check(n+" Choice", c.Variable)
			}
			for _, c := range s.Catch {
				check(n+" Catch", c.ResultPath)
				if c.ResultPath == "$."+ResultFailure || c.ResultPath == "$."+ResultBake {
					// A caught error is {"Error","Cause"}.
					ft, _ := fieldPath(state, c.ResultPath)
					for _, f := range []string{"Error", "Cause"} {
						if _, ok := fieldPath(ft, "$."+f); !ok {
							t.Errorf("%s Catch at %s: %s has no %s field", n, c.ResultPath, ft, f)
						}
					}
				}
			}
			// A ResultSelector picks fields of the Lambda's payload into
			// the type at ResultPath.
			if s.ResultSelector != nil && s.ResultPath != nil {
				target, _ := fieldPath(state, *s.ResultPath)
				for key := range s.ResultSelector {
					field := strings.TrimSuffix(key, ".$")
					if target == nil {
						break
					}
					if _, ok := fieldPath(target, "$."+field); !ok {
						t.Errorf("%s ResultSelector picks %q, which %s lacks", n, field, target)
					}
				}
			}
		}
		for _, f := range []string{ResultSmoke, ResultApproval, ResultShift, ResultBake, ResultFailure} {
			check("State field", "$."+f)
		}
	})
}
