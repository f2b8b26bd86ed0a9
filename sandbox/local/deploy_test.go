package local_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/iam"
	"github.com/aliasflow/aliasflow/sandbox/local"
	"github.com/aliasflow/aliasflow/shared/awsenv"
)

// templatesDir is where make build-local synthesizes the CDK app's
// templates, the world's deployment description.
func templatesDir(t *testing.T) string {
	t.Helper()
	d := filepath.Join(binDir(t), "templates")
	if _, err := os.Stat(filepath.Join(d, "AliasflowPipeline.template.json")); err != nil {
		t.Fatalf("the synthesized templates are missing: run `make build-local` (looked in %s)", d)
	}
	return d
}

// TestWorldIsWhatTheTemplatesDeploy holds the local world to the CDK app:
// every function, rule, alarm and subscription the templates define exists
// in the world with the templates' values (the function's environment has
// the sandbox's endpoint and loopback-only added, nothing else), so no
// value written by hand can disagree with what `cdk deploy` creates.
func TestWorldIsWhatTheTemplatesDeploy(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w, err := local.Start(ctx, local.Options{BinDir: binDir(t), EventRetryDelays: []time.Duration{}})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = w.Close() })
	raw, err := iam.ReadDir(templatesDir(t))
	if err != nil {
		t.Fatal(err)
	}
	stacks, err := iam.Parse(raw, w.Sandbox().IAMEnv())
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Rules []struct {
			Name, Description, EventPattern, State string
			Targets                                []struct{ Id, Arn string }
		}
	}
	snap, err := w.Sandbox().Events().Snapshot()
	if err != nil || json.Unmarshal(snap, &rules) != nil {
		t.Fatalf("events snapshot: %v %s", err, snap)
	}

	type check struct {
		name      string
		got, want any
	}
	var checks []check
	resolve := func(s *iam.Stack, v any) any {
		t.Helper()
		r, err := s.Resolve(v)
		if err != nil {
			t.Fatalf("resolve %v: %v", v, err)
		}
		return r
	}
	str := func(v any) string { s, _ := v.(string); return s }
	functions, rulesSeen := 0, 0
	for _, s := range stacks {
		for _, id := range s.LogicalIDs() {
			r := s.Resources()[id]
			p := r.Properties
			switch r.Type {
			case "AWS::Lambda::Function":
				name := str(p["FunctionName"])
				if name == "" {
					continue // the custom resources' provider, which the world applies itself
				}
				functions++
				c, err := w.Sandbox().Lambda().GetFunctionConfiguration(name, "")
				if err != nil {
					t.Errorf("function %s of the templates: %v", name, err)
					continue
				}
				env := map[string]string{}
				if c.Environment != nil {
					for k, v := range c.Environment.Variables {
						env[k] = v
					}
				}
				want := map[string]string{"AWS_ENDPOINT_URL": w.Endpoint(), awsenv.LoopbackOnlyEnv: "1"}
				if e, ok := p["Environment"].(map[string]any); ok {
					for k, v := range resolve(s, e["Variables"]).(map[string]any) {
						want[k] = str(v)
					}
				}
				logGroup, _ := resolve(s, p["LoggingConfig"]).(map[string]any)
				checks = append(checks,
					check{name + " Timeout", c.Timeout, int(p["Timeout"].(float64))},
					check{name + " MemorySize", c.MemorySize, int(p["MemorySize"].(float64))},
					check{name + " Role", c.Role, resolve(s, p["Role"])},
					check{name + " Runtime", c.Runtime, p["Runtime"]},
					check{name + " Description", c.Description, p["Description"]},
					check{name + " LogGroup", c.LoggingConfig.LogGroup, logGroup["LogGroup"]},
					check{name + " Environment", env, want})
			case "AWS::Events::Rule":
				rulesSeen++
				name := str(p["Name"])
				i := indexOf(len(rules.Rules), func(i int) bool { return rules.Rules[i].Name == name })
				if i < 0 {
					t.Errorf("rule %s of the templates is not in the world", name)
					continue
				}
				got := rules.Rules[i]
				var gotPattern any
				_ = json.Unmarshal([]byte(got.EventPattern), &gotPattern)
				var wantTargets, gotTargets []string
				for _, tg := range resolve(s, p["Targets"]).([]any) {
					m := tg.(map[string]any)
					wantTargets = append(wantTargets, str(m["Id"])+"="+str(m["Arn"]))
				}
				for _, tg := range got.Targets {
					gotTargets = append(gotTargets, tg.Id+"="+tg.Arn)
				}
				checks = append(checks,
					check{name + " EventPattern", gotPattern, resolve(s, p["EventPattern"])},
					check{name + " Description", got.Description, p["Description"]},
					check{name + " State", got.State, p["State"]},
					check{name + " Targets", gotTargets, wantTargets})
			case "AWS::CloudWatch::Alarm":
				name := str(p["AlarmName"])
				a, ok := w.Sandbox().CloudWatch().Alarm(name)
				if !ok {
					t.Errorf("alarm %s of the templates is not in the world", name)
					continue
				}
				// A metric math alarm has Metrics (queries, each a metric or
				// an expression) instead of MetricName and Period.
				wantPeriod, _ := p["Period"].(float64)
				var gotQueries, wantQueries []string
				for _, q := range a.Metrics {
					metric := ""
					if q.MetricStat != nil {
						metric = q.MetricStat.Metric.MetricName
					}
					gotQueries = append(gotQueries, q.Id+"="+metric+q.Expression)
				}
				wantMetrics, _ := resolve(s, p["Metrics"]).([]any)
				for _, q := range wantMetrics {
					m := q.(map[string]any)
					metric, _ := m["MetricStat"].(map[string]any)
					inner, _ := metric["Metric"].(map[string]any)
					wantQueries = append(wantQueries, str(m["Id"])+"="+str(inner["MetricName"])+str(m["Expression"]))
				}
				checks = append(checks,
					check{name + " Threshold", a.Threshold, p["Threshold"]},
					check{name + " MetricName", a.MetricName, str(p["MetricName"])},
					check{name + " Period", float64(a.Period), wantPeriod},
					check{name + " Metrics", gotQueries, wantQueries},
					check{name + " ComparisonOperator", a.ComparisonOperator, p["ComparisonOperator"]})
			case "AWS::SNS::Subscription":
				endpoint := str(p["Endpoint"])
				var subscribed []string
				for _, c := range w.Sandbox().SNS().PendingConfirmations() {
					subscribed = append(subscribed, c.Endpoint)
				}
				checks = append(checks, check{"subscription " + endpoint, indexOf(len(subscribed), func(i int) bool { return subscribed[i] == endpoint }) >= 0, true})
			}
		}
	}
	if functions < 5 || rulesSeen < 3 {
		t.Fatalf("the templates define %d named functions and %d rules, want the pipeline's four and hello, and its three rules", functions, rulesSeen)
	}
	// The names the package exports for its users are the templates'.
	ruleNames := map[string]bool{}
	for _, r := range rules.Rules {
		ruleNames[r.Name] = true
	}
	_, alarm := w.Sandbox().CloudWatch().Alarm(local.HelloAlarm)
	release, _ := w.Sandbox().Lambda().GetFunctionConfiguration(local.ReleaseFunction, "")
	checks = append(checks,
		check{"name HelloAlarm", alarm, true},
		check{"name CodeBuildRule", ruleNames[local.CodeBuildRule], true},
		check{"name ReleaseRule", ruleNames[local.ReleaseRule], true},
		check{"name SettingsChangedRule", ruleNames[local.SettingsChangedRule], true},
		check{"name PipelineLogGroup", release.LoggingConfig.LogGroup, local.PipelineLogGroup},
		check{"name StateMachineName", strings.HasSuffix(w.StateMachineARN(), ":stateMachine:"+local.StateMachineName), true})
	sort.Slice(checks, func(i, j int) bool { return checks[i].name < checks[j].name })
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if fmt.Sprint(c.got) != fmt.Sprint(c.want) && !reflect.DeepEqual(c.got, c.want) {
				t.Errorf("the world has %v, the templates %v", c.got, c.want)
			}
		})
	}
}

func indexOf(n int, f func(int) bool) int {
	for i := range n {
		if f(i) {
			return i
		}
	}
	return -1
}

// TestTemplatesTheSandboxCannotApplyAreRefused: a resource the sandbox
// cannot create is refused by its type (or property) before the world
// starts, rather than left out silently.
func TestTemplatesTheSandboxCannotApplyAreRefused(t *testing.T) {
	src := templatesDir(t)
	for _, c := range []struct {
		name     string
		add      string // a resource of the pipeline's template, as JSON
		wantErrs []string
	}{
		{"a type the sandbox has no service for", `{"Type":"AWS::EC2::Instance","Properties":{"ImageId":"ami-1"}}`, []string{"AWS::EC2::Instance", "cannot apply"}},
		{"a custom resource of another kind", `{"Type":"Custom::Other","Properties":{"ServiceToken":"arn:aws:lambda:us-east-1:000000000000:function:x"}}`, []string{"Custom::Other", "cannot apply"}},
		{"a function no bootstrap runs", `{"Type":"AWS::Lambda::Function","Properties":{"FunctionName":"aliasflow-other","Role":"arn:aws:iam::000000000000:role/r","Runtime":"provided.al2023","Handler":"bootstrap"}}`, []string{"aliasflow-other", "no bootstrap"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, stack := range []string{"AliasflowPipeline", "AliasflowSample"} {
				b, err := os.ReadFile(filepath.Join(src, stack+".template.json"))
				if err != nil {
					t.Fatal(err)
				}
				if stack == "AliasflowPipeline" {
					var tpl map[string]any
					if err := json.Unmarshal(b, &tpl); err != nil {
						t.Fatal(err)
					}
					var res any
					if err := json.Unmarshal([]byte(c.add), &res); err != nil {
						t.Fatal(err)
					}
					tpl["Resources"].(map[string]any)["Added"] = res
					b, _ = json.Marshal(tpl)
				}
				if err := os.WriteFile(filepath.Join(dir, stack+".template.json"), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			w, err := local.Start(ctx, local.Options{BinDir: binDir(t), Templates: dir})
			if err == nil {
				_ = w.Close()
				t.Fatalf("Start = nil error, want one naming %q", c.wantErrs)
			}
			for _, want := range c.wantErrs {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Start error = %v, want it to name %q", err, want)
				}
			}
		})
	}
}
