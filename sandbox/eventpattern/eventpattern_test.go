package eventpattern

import (
	"encoding/json"
	"os"
	"path/filepath"
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

func TestMatch(t *testing.T) {
	ec2 := readEvent(t, "ec2-state-change.json")
	tests := []struct {
		name    string
		pattern string
		want    bool
	}{
		{"exact source", `{"source":["aws.ec2"]}`, true},
		{"exact source mismatch", `{"source":["aws.s3"]}`, false},
		{"any of several values", `{"source":["aws.s3","aws.ec2"]}`, true},
		{"nested exact", `{"detail":{"state":["terminated"]}}`, true},
		{"nested two levels", `{"detail":{"location":{"city":["Seattle"]}}}`, true},
		{"nested mismatch", `{"detail":{"location":{"city":["Paris"]}}}`, false},
		{"all fields must match", `{"source":["aws.ec2"],"detail":{"state":["running"]}}`, false},
		{"event array any element", `{"resources":["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"]}`, true},
		{"event array element tags", `{"detail":{"tags":["prod"]}}`, true},
		{"event array no element", `{"detail":{"tags":["dev"]}}`, false},
		{"number exact", `{"detail":{"c-count":[5]}}`, true},
		{"number exact as float", `{"detail":{"c-count":[5.0]}}`, true},
		{"number is not a string", `{"detail":{"c-count":["5"]}}`, false},
		{"null matches null", `{"detail":{"nothing":[null]}}`, true},
		{"empty string matches empty", `{"detail":{"empty":[""]}}`, true},
		{"null does not match missing", `{"detail":{"missing":[null]}}`, false},
		{"prefix", `{"detail":{"state":[{"prefix":"term"}]}}`, true},
		{"prefix mismatch", `{"detail":{"state":[{"prefix":"run"}]}}`, false},
		{"prefix ignore case", `{"detail":{"state":[{"prefix":{"equals-ignore-case":"TERM"}}]}}`, true},
		{"suffix", `{"detail":{"state":[{"suffix":"ated"}]}}`, true},
		{"suffix ignore case", `{"detail":{"state":[{"suffix":{"equals-ignore-case":"ATED"}}]}}`, true},
		{"equals-ignore-case", `{"detail-type":[{"equals-ignore-case":"ec2 instance state-change notification"}]}`, true},
		{"anything-but string", `{"detail":{"state":[{"anything-but":"initializing"}]}}`, true},
		{"anything-but same", `{"detail":{"state":[{"anything-but":"terminated"}]}}`, false},
		{"anything-but list", `{"detail":{"state":[{"anything-but":["stopped","overloaded"]}]}}`, true},
		{"anything-but list hit", `{"detail":{"state":[{"anything-but":["stopped","terminated"]}]}}`, false},
		{"anything-but number", `{"detail":{"c-count":[{"anything-but":0}]}}`, true},
		{"anything-but prefix", `{"detail":{"state":[{"anything-but":{"prefix":"init"}}]}}`, true},
		{"anything-but prefix hit", `{"detail":{"state":[{"anything-but":{"prefix":"term"}}]}}`, false},
		{"anything-but suffix hit", `{"detail":{"state":[{"anything-but":{"suffix":"ated"}}]}}`, false},
		{"anything-but ignore case hit", `{"detail":{"state":[{"anything-but":{"equals-ignore-case":["TERMINATED","x"]}}]}}`, false},
		{"anything-but absent field", `{"detail":{"missing":[{"anything-but":"x"}]}}`, false},
		{"exists true", `{"detail":{"state":[{"exists":true}]}}`, true},
		{"exists true absent", `{"detail":{"missing":[{"exists":true}]}}`, false},
		{"exists false absent", `{"detail":{"missing":[{"exists":false}]}}`, true},
		{"exists false present", `{"detail":{"state":[{"exists":false}]}}`, false},
		{"exists false in absent object", `{"nope":{"inner":[{"exists":false}]}}`, true},
		{"exists on object", `{"detail":{"location":[{"exists":true}]}}`, true},
		{"numeric range", `{"detail":{"c-count":[{"numeric":[">",0,"<=",5]}]}}`, true},
		{"numeric range miss", `{"detail":{"d-count":[{"numeric":["<",3]}]}}`, false},
		{"numeric equals", `{"detail":{"x-limit":[{"numeric":["=",301.8]}]}}`, true},
		{"numeric on string", `{"detail":{"state":[{"numeric":[">",0]}]}}`, false},
		{"wildcard", `{"resources":[{"wildcard":"arn:aws:ec2:*:instance/*"}]}`, true},
		{"wildcard miss", `{"resources":[{"wildcard":"arn:aws:s3:*"}]}`, false},
		{"wildcard middle", `{"detail":{"state":[{"wildcard":"ter*ted"}]}}`, true},
		{"wildcard no star is exact", `{"detail":{"state":[{"wildcard":"terminate"}]}}`, false},
		{"or", `{"$or":[{"detail":{"c-count":[{"numeric":[">",10]}]}},{"detail":{"d-count":[3]}}]}`, true},
		{"or none", `{"$or":[{"detail":{"c-count":[{"numeric":[">",10]}]}},{"detail":{"d-count":[4]}}]}`, false},
		{"leaf pattern against object", `{"detail":["x"]}`, false},
		{"nested pattern against string", `{"source":{"x":["y"]}}`, false},
		{"mixed values and filter", `{"detail":{"state":["running",{"prefix":"ter"}]}}`, true},
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

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name    string
		pattern string
	}{
		{"not json", `{"source":`},
		{"not an object", `["aws.ec2"]`},
		{"empty object", `{}`},
		{"bare string value", `{"source":"aws.ec2"}`},
		{"bare number value", `{"detail":{"n":5}}`},
		{"empty array", `{"source":[]}`},
		{"nested array", `{"source":[["a"]]}`},
		{"unknown operator", `{"source":[{"contains":"ec2"}]}`},
		{"two operators", `{"source":[{"prefix":"a","suffix":"b"}]}`},
		{"prefix not string", `{"source":[{"prefix":5}]}`},
		{"exists not bool", `{"source":[{"exists":"yes"}]}`},
		{"numeric odd", `{"n":[{"numeric":[">"]}]}`},
		{"numeric bad op", `{"n":[{"numeric":["!=",1]}]}`},
		{"numeric two lower", `{"n":[{"numeric":[">",1,">=",2]}]}`},
		{"numeric out of range", `{"n":[{"numeric":[">",6e9]}]}`},
		{"numeric string value", `{"n":[{"numeric":[">","1"]}]}`},
		{"cidr refused", `{"ip":[{"cidr":"10.0.0.0/24"}]}`},
		{"anything-but empty list", `{"s":[{"anything-but":[]}]}`},
		{"anything-but exists", `{"s":[{"anything-but":{"exists":true}}]}`},
		{"wildcard double star", `{"s":[{"wildcard":"a**b"}]}`},
		{"or single", `{"$or":[{"a":["b"]}]}`},
		{"trailing data", `{"a":["b"]} {}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if p, err := Compile(tt.pattern); err == nil {
				t.Errorf("Compile(%s) = %v, want an error", tt.pattern, p)
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
