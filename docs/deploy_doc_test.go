// Package docs_test holds docs/deploy.md's claims about aliases to what
// SAM, CloudFormation and the synthesized stacks do.
package docs_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func readDoc(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("deploy.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// samSnippets are the SAM templates of the documented migration, by the
// first line of their block ("# SAM migration, <step>: …"), with the
// indentation of a list item removed.
func samSnippets(t *testing.T, doc string) map[string]string {
	t.Helper()
	out := map[string]string{}
	re := regexp.MustCompile("(?m)^( *)```yaml\n((?:.*\n)*?) *```\n")
	for _, m := range re.FindAllStringSubmatch(doc, -1) {
		indent, body := m[1], m[2]
		var lines []string
		for _, l := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
			lines = append(lines, strings.TrimPrefix(l, indent))
		}
		first, _, _ := strings.Cut(lines[0], ":")
		step, ok := strings.CutPrefix(first, "# SAM migration, ")
		if !ok {
			continue
		}
		out[step] = strings.Join(lines, "\n")
	}
	return out
}

// cfnResource is what the test follows of a CloudFormation resource.
type cfnResource struct {
	typ, deletionPolicy string
}

// samTemplate is the part of a SAM template the migration changes.
type samTemplate struct {
	Resources map[string]struct {
		Type           string `yaml:"Type"`
		DeletionPolicy string `yaml:"DeletionPolicy"`
		Properties     struct {
			FunctionName         string            `yaml:"FunctionName"`
			Name                 string            `yaml:"Name"`
			AutoPublishAlias     string            `yaml:"AutoPublishAlias"`
			DeploymentPreference map[string]any    `yaml:"DeploymentPreference"`
			Events               map[string]any    `yaml:"Events"`
			Tags                 map[string]string `yaml:"Tags"`
		} `yaml:"Properties"`
	} `yaml:"Resources"`
}

// transform is SAM's expansion of the template, as far as aliases and
// versions go ("CloudFormation resources generated when
// AWS::Serverless::Function is specified": AutoPublishAlias generates
// <id>Alias<alias> and <id>Version<sha>; "Resource attributes supported by
// AWS SAM": DeletionPolicy is copied to every generated resource, and a
// generated AWS::Lambda::Version is Retain when none is given).
func transform(t *testing.T, src string) map[string]cfnResource {
	t.Helper()
	var tpl samTemplate
	if err := yaml.Unmarshal([]byte(src), &tpl); err != nil {
		t.Fatalf("the snippet is not YAML: %v\n%s", err, src)
	}
	out := map[string]cfnResource{}
	for id, r := range tpl.Resources {
		if r.Type != "AWS::Serverless::Function" {
			out[id] = cfnResource{r.Type, r.DeletionPolicy}
			continue
		}
		p := r.Properties
		if p.DeploymentPreference != nil && p.AutoPublishAlias == "" {
			t.Fatalf("%s: SAM refuses DeploymentPreference without AutoPublishAlias", id)
		}
		out[id] = cfnResource{"AWS::Lambda::Function", r.DeletionPolicy}
		if a := p.AutoPublishAlias; a != "" {
			out[id+"Alias"+a] = cfnResource{"AWS::Lambda::Alias", r.DeletionPolicy}
			versionPolicy := r.DeletionPolicy
			if versionPolicy == "" {
				versionPolicy = "Retain"
			}
			out[id+"Version"] = cfnResource{"AWS::Lambda::Version", versionPolicy}
		}
	}
	return out
}

// deleted are the aliases and versions a stack update from before to after
// deletes: the resources that leave the template, unless the deployed
// template gave them DeletionPolicy Retain ("DeletionPolicy attribute":
// "This capability also applies to stack update operations that lead to
// resources being deleted from stacks").
func deleted(before, after map[string]cfnResource) []string {
	var out []string
	for id, r := range before {
		if _, kept := after[id]; kept || r.deletionPolicy == "Retain" {
			continue
		}
		if r.typ == "AWS::Lambda::Alias" || r.typ == "AWS::Lambda::Version" {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// TestSAMMigrationNeverDeletesAnAlias: the documented SAM migration, each
// step a `sam deploy` of the snippet, deletes no alias and no version on
// the way, and ends with SAM managing no alias; taking the last step
// straight from the start (what the page used to say: remove
// AutoPublishAlias) is caught deleting prod, so the check is not vacuous.
func TestSAMMigrationNeverDeletesAnAlias(t *testing.T) {
	snippets := samSnippets(t, readDoc(t))
	for _, c := range []struct {
		name        string
		steps       []string
		wantDeleted []string
	}{
		{"the documented steps in order", []string{"before", "step 1", "step 2"}, nil},
		{"removing AutoPublishAlias at once", []string{"before", "step 2"}, []string{"OrdersAliasprod"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			var prev map[string]cfnResource
			for i, step := range c.steps {
				src, ok := snippets[step]
				if !ok {
					t.Fatalf("docs/deploy.md has no SAM snippet %q (has %v)", step, keys(snippets))
				}
				cur := transform(t, src)
				if i > 0 {
					got = append(got, deleted(prev, cur)...)
				}
				prev = cur
			}
			if fmt.Sprint(got) != fmt.Sprint(c.wantDeleted) {
				t.Errorf("deploying %v deletes %v, want %v", c.steps, got, c.wantDeleted)
			}
		})
	}
}

// TestSAMMigrationEndsWithAliasflowAlone: after the last step SAM neither
// moves an alias nor wires an event source to $LATEST, declares no stg or
// prod alias, and the function carries the pipeline's tag.
func TestSAMMigrationEndsWithAliasflowAlone(t *testing.T) {
	snippets := samSnippets(t, readDoc(t))
	src, ok := snippets["step 2"]
	if !ok {
		t.Fatal("docs/deploy.md has no SAM snippet \"step 2\"")
	}
	var tpl samTemplate
	if err := yaml.Unmarshal([]byte(src), &tpl); err != nil {
		t.Fatal(err)
	}
	for id, r := range tpl.Resources {
		p := r.Properties
		for _, c := range []struct {
			name      string
			got, want any
		}{
			{"AutoPublishAlias", p.AutoPublishAlias, ""},
			{"DeploymentPreference set", p.DeploymentPreference != nil, false},
			{"Events set (SAM would wire them to $LATEST)", p.Events != nil, false},
			{"tag aliasflow:pipeline", p.Tags["aliasflow:pipeline"], "aliasflow"},
			{"DeletionPolicy (kept, so nothing SAM generated before is deleted)", r.DeletionPolicy, "Retain"},
		} {
			if r.Type == "AWS::Serverless::Function" && c.got != c.want {
				t.Errorf("%s %s: got %v, want %v", id, c.name, c.got, c.want)
			}
		}
		if r.Type == "AWS::Lambda::Alias" && (p.Name == "stg" || p.Name == "prod") {
			t.Errorf("%s declares the alias %s, which aliasflow owns", id, p.Name)
		}
	}
}

// templatesDir is where make build-local synthesizes the CDK app.
func templatesDir(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("ALIASFLOW_BIN_DIR")
	if bin == "" {
		bin = filepath.Join("..", "dist", "local")
	}
	d := filepath.Join(bin, "templates")
	if _, err := os.Stat(filepath.Join(d, "AliasflowSample.template.json")); err != nil {
		t.Fatalf("the synthesized templates are missing: run `make build-local` (looked in %s)", d)
	}
	return d
}

// TestAliasStatementMatchesTheSynthesizedTarget: the page's up-front
// statement (alias names, the prod alarm's default threshold, comparison
// and fewest calls) is what the sample's target, which sets no
// ErrorRateThreshold, synthesizes.
func TestAliasStatementMatchesTheSynthesizedTarget(t *testing.T) {
	doc := readDoc(t)
	_, statement, ok := strings.Cut(doc, "## The aliases and the prod alarm, before you start\n")
	statement, _, ok2 := strings.Cut(statement, "\n## ")
	if !ok || !ok2 {
		t.Fatal("docs/deploy.md has no section \"The aliases and the prod alarm, before you start\"")
	}
	find := func(re string) string {
		t.Helper()
		m := regexp.MustCompile(re).FindStringSubmatch(statement)
		if m == nil {
			t.Fatalf("the statement does not say %s", re)
		}
		return m[1]
	}
	docThreshold, _ := strconv.ParseFloat(find(`default\s+\*\*\d+ %\*\*\s+\((0\.\d+)\)`), 64)
	docMinCalls := find(`at least (\d+) calls`)
	named := regexp.MustCompile("Alias names are fixed: `([a-z]+)` and `([a-z]+)`").FindStringSubmatch(statement)
	if named == nil {
		t.Fatal("the statement does not name the two aliases")
	}
	docAliases := []string{named[1], named[2]}
	slices.Sort(docAliases)
	_ = find(`calls in a minute that fail (reaches) ` + "`TargetProps.ErrorRateThreshold`")

	raw, err := os.ReadFile(filepath.Join(templatesDir(t), "AliasflowSample.template.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tpl struct {
		Resources map[string]struct {
			Type       string
			Properties json.RawMessage
		}
	}
	if err := json.Unmarshal(raw, &tpl); err != nil {
		t.Fatal(err)
	}
	var alarm struct {
		AlarmName, ComparisonOperator string
		Threshold                     float64
		Metrics                       []struct{ Expression string }
	}
	var aliases []string
	for _, r := range tpl.Resources {
		switch r.Type {
		case "AWS::CloudWatch::Alarm":
			if err := json.Unmarshal(r.Properties, &alarm); err != nil {
				t.Fatal(err)
			}
		case "Custom::AliasflowAlias":
			var p struct{ Create any }
			_ = json.Unmarshal(r.Properties, &p)
			b, _ := json.Marshal(p.Create)
			m := regexp.MustCompile(`\\"Name\\":\\"([a-z]+)\\"`).FindSubmatch(b)
			if m == nil {
				t.Fatalf("a Custom::AliasflowAlias names no alias: %s", b)
			}
			aliases = append(aliases, string(m[1]))
		}
	}
	slices.Sort(aliases)
	minCalls := ""
	for _, q := range alarm.Metrics {
		if m := regexp.MustCompile(`invocations >= (\d+)`).FindStringSubmatch(q.Expression); m != nil {
			minCalls = m[1]
		}
	}
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"prod alarm default threshold", alarm.Threshold, docThreshold},
		{"prod alarm fewest calls", minCalls, docMinCalls},
		{"prod alarm fires when the rate reaches the threshold", alarm.ComparisonOperator, "GreaterThanOrEqualToThreshold"},
		{"alias names", aliases, docAliases},
	} {
		if fmt.Sprint(c.got) != fmt.Sprint(c.want) {
			t.Errorf("%s: the synthesized stack has %v, docs/deploy.md says %v", c.name, c.got, c.want)
		}
	}
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
