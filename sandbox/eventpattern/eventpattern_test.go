package eventpattern

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aliasflow/aliasflow/shared/eventpatterns"
)

func readEvent(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestMatch holds exact and prefix matching to what the EventBridge user
// guide documents ("Creating event patterns",
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern.html;
// "Content filtering in Amazon EventBridge event patterns",
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html):
// a match array is any of its values, every field must match, an event
// array matches when any element does, matching is exact (a number is not
// its string) and case-sensitive.
func TestMatch(t *testing.T) {
	ec2 := readEvent(t, "ec2-state-change.json")
	tests := []struct {
		name    string
		pattern string
		want    bool
	}{
		{"exact source", `{"source":["aws.ec2"]}`, true},
		{"exact source mismatch", `{"source":["aws.s3"]}`, false},
		{"exact is case-sensitive", `{"source":["AWS.EC2"]}`, false},
		{"any of several values", `{"source":["aws.s3","aws.ec2"]}`, true},
		{"nested exact", `{"detail":{"state":["terminated"]}}`, true},
		{"nested two levels", `{"detail":{"location":{"city":["Seattle"]}}}`, true},
		{"nested mismatch", `{"detail":{"location":{"city":["Paris"]}}}`, false},
		{"all fields must match", `{"source":["aws.ec2"],"detail":{"state":["running"]}}`, false},
		{"event array any element", `{"resources":["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"]}`, true},
		{"event array element tags", `{"detail":{"tags":["prod"]}}`, true},
		{"event array no element", `{"detail":{"tags":["dev"]}}`, false},
		{"number is not a string", `{"detail":{"c-count":["5"]}}`, false},
		{"empty string matches empty", `{"detail":{"empty":[""]}}`, true},
		{"nested pattern on a missing field", `{"nope":{"inner":["x"]}}`, false},
		{"prefix", `{"detail":{"state":[{"prefix":"term"}]}}`, true},
		{"prefix mismatch", `{"detail":{"state":[{"prefix":"run"}]}}`, false},
		{"prefix is case-sensitive", `{"detail":{"state":[{"prefix":"TERM"}]}}`, false},
		{"prefix on an event array", `{"resources":[{"prefix":"arn:aws:ec2:"}]}`, true},
		{"prefix on a number", `{"detail":{"c-count":[{"prefix":"5"}]}}`, false},
		{"leaf pattern against object", `{"detail":["x"]}`, false},
		{"nested pattern against string", `{"source":{"x":["y"]}}`, false},
		{"mixed values and prefix", `{"detail":{"state":["running",{"prefix":"ter"}]}}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile(tt.pattern)
			if err != nil {
				t.Fatalf("Compile(%s): %v", tt.pattern, err)
			}
			got, err := p.Match(ec2)
			if err != nil {
				t.Fatalf("Match: %v", err)
			}
			if got != tt.want {
				t.Errorf("Match(%s) = %v, want %v", tt.pattern, got, tt.want)
			}
		})
	}
}

// settingsWrite is the CloudTrail record of an SSM call as EventBridge
// delivers it ("AWS API Call via CloudTrail").
func settingsWrite(eventName, parameter string) []byte {
	return []byte(fmt.Sprintf(`{"source":"aws.ssm","detail-type":"AWS API Call via CloudTrail","detail":{"eventSource":"ssm.amazonaws.com","eventName":%q,"requestParameters":{"name":%q,"overwrite":true}}}`, eventName, parameter))
}

// TestProjectPatterns: the patterns of aliasflow's rules (shared/eventpatterns,
// which the CDK app deploys) match the events they are for and no others.
func TestProjectPatterns(t *testing.T) {
	codebuild := readEvent(t, "codebuild-succeeded.json")
	release := readEvent(t, "release-requested.json")
	failed := []byte(`{"source":"aws.codebuild","detail-type":"CodeBuild Build State Change","detail":{"build-status":"FAILED","project-name":"hello-build"}}`)
	tests := []struct {
		name    string
		pattern map[string]any
		event   []byte
		want    bool
	}{
		{"codebuild succeeded matches", eventpatterns.CodeBuildSucceeded([]string{"hello-build", "other"}), codebuild, true},
		{"codebuild other project", eventpatterns.CodeBuildSucceeded([]string{"other"}), codebuild, false},
		{"codebuild failed build", eventpatterns.CodeBuildSucceeded([]string{"hello-build"}), failed, false},
		{"codebuild pattern vs release", eventpatterns.CodeBuildSucceeded([]string{"hello-build"}), release, false},
		{"release requested matches", eventpatterns.ReleaseRequested(), release, true},
		{"release pattern vs codebuild", eventpatterns.ReleaseRequested(), codebuild, false},
		{"settings written under the path", eventpatterns.SettingsChanged("/aliasflow/aliasflow/targets/"), settingsWrite("PutParameter", "/aliasflow/aliasflow/targets/hello"), true},
		{"settings written elsewhere", eventpatterns.SettingsChanged("/aliasflow/aliasflow/targets/"), settingsWrite("PutParameter", "/other/targets/hello"), false},
		{"settings read", eventpatterns.SettingsChanged("/aliasflow/aliasflow/targets/"), settingsWrite("GetParameter", "/aliasflow/aliasflow/targets/hello"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.pattern)
			if err != nil {
				t.Fatal(err)
			}
			p, err := Compile(string(b))
			if err != nil {
				t.Fatalf("Compile(%s): %v", b, err)
			}
			got, err := p.Match(tt.event)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Match(%s) = %v, want %v", b, got, tt.want)
			}
		})
	}
}

// TestCompileErrors: the content filters aliasflow does not use are
// refused by name, and malformed patterns say what is wrong.
func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name, pattern, want string
	}{
		{"not json", `{"source":`, "not valid JSON"},
		{"not an object", `["aws.ec2"]`, "must be a JSON object"},
		{"empty object", `{}`, "must not be empty"},
		{"bare string value", `{"source":"aws.ec2"}`, "source: match values must be in an array"},
		{"bare number value", `{"detail":{"n":5}}`, "detail.n: match values must be in an array"},
		{"empty array", `{"source":[]}`, "empty array"},
		{"nested array", `{"source":[["a"]]}`, "unsupported match value"},
		{"empty nested object", `{"detail":{}}`, "detail: empty object"},
		{"two operators", `{"source":[{"prefix":"a","suffix":"b"}]}`, "exactly one operator"},
		{"prefix not string", `{"source":[{"prefix":5}]}`, "prefix takes a string"},
		{"prefix ignoring case", `{"source":[{"prefix":{"equals-ignore-case":"A"}}]}`, "prefix takes a string"},
		{"suffix", `{"source":[{"suffix":"ec2"}]}`, "the content filter suffix is not supported"},
		{"anything-but", `{"detail":{"state":[{"anything-but":"x"}]}}`, "detail.state: the content filter anything-but is not supported"},
		{"numeric", `{"n":[{"numeric":[">",0]}]}`, "the content filter numeric is not supported"},
		{"exists", `{"s":[{"exists":true}]}`, "the content filter exists is not supported"},
		{"equals-ignore-case", `{"s":[{"equals-ignore-case":"x"}]}`, "the content filter equals-ignore-case is not supported"},
		{"wildcard", `{"s":[{"wildcard":"a*"}]}`, "the content filter wildcard is not supported"},
		{"cidr", `{"ip":[{"cidr":"10.0.0.0/24"}]}`, "the content filter cidr is not supported"},
		{"unknown operator", `{"source":[{"contains":"ec2"}]}`, "the content filter contains is not supported"},
		{"or", `{"$or":[{"a":["b"]},{"c":["d"]}]}`, "$or is not supported"},
		{"exact number", `{"detail":{"c-count":[5]}}`, "detail.c-count: the exact number 5 is not supported"},
		{"exact boolean", `{"detail":{"on":[true]}}`, "detail.on: the exact boolean true is not supported"},
		{"exact null", `{"detail":{"nothing":[null]}}`, "detail.nothing: the exact null is not supported"},
		{"trailing data", `{"a":["b"]} {}`, "trailing data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile(tt.pattern)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Compile(%s) = %v, %v; want an error naming %q", tt.pattern, p, err, tt.want)
			}
		})
	}
}

func TestMatchRejectsBadEvents(t *testing.T) {
	p := MustCompile(`{"source":["x"]}`)
	for _, ev := range []string{`not json`, `["x"]`} {
		if _, err := p.Match([]byte(ev)); err == nil {
			t.Errorf("Match(%s): want an error", ev)
		}
	}
}
