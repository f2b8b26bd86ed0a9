package codebuild

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/core"
	"github.com/aliasflow/aliasflow/sandbox/events"
	"github.com/aliasflow/aliasflow/sandbox/internal/servicetest"
	"github.com/aliasflow/aliasflow/shared/eventpatterns"
	"github.com/aliasflow/aliasflow/shared/release"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/smithy-go"
)

var exported = []EnvironmentVariable{
	{Name: release.VarFunction, Value: "hello"},
	{Name: release.VarCodeSha256, Value: "9a7FMr2BtwI4GK/P4d1j8JPSLYHeV6H55HvtJVGI7T8="},
	{Name: release.VarCommit, Value: "4f1c2e9"},
	{Name: release.VarRequestedBy, Value: "ana@example.com"},
}

// TestBuildEmitsItsStateChangeEvent: a build puts its own "CodeBuild Build
// State Change" on the sandbox EventBridge, in the shape of "Build
// notifications input format reference" (AWS CodeBuild User Guide), with
// or without the exported variables.
func TestBuildEmitsItsStateChangeEvent(t *testing.T) {
	bus := events.New(nil, nil, nil)
	t.Cleanup(bus.Close)
	svc := New(bus, &Options{Now: func() time.Time { return time.Date(2026, 3, 2, 16, 14, 28, 0, time.UTC) }})
	tests := []struct {
		name         string
		in           RunInput
		wantExported bool
	}{
		{"with the exported variables", RunInput{Project: "hello-build", SourceVersion: "4f1c2e9", Initiator: "codebuild-webhook", Exported: exported}, true},
		{"without them, as the documented sample", RunInput{Project: "hello-build", SourceVersion: "4f1c2e9", Exported: exported, EventWithoutExported: true}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, id, err := svc.RunBuild(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(b.ID, "hello-build:") || b.Arn != "arn:aws:codebuild:"+core.Region+":"+core.Account+":build/"+b.ID || b.BuildStatus != "SUCCEEDED" {
				t.Errorf("build = %+v", b)
			}
			var ev *events.Event
			for _, e := range bus.Events() {
				if e.ID == id {
					ev = &e
				}
			}
			if ev == nil {
				t.Fatalf("event %s is not on the bus (%d events)", id, len(bus.Events()))
			}
			if ev.Source != eventpatterns.CodeBuildSource || ev.DetailType != eventpatterns.CodeBuildDetailType || len(ev.Resources) != 1 || ev.Resources[0] != b.Arn {
				t.Errorf("event envelope = %+v", ev)
			}
			var detail struct {
				BuildStatus string `json:"build-status"`
				ProjectName string `json:"project-name"`
				BuildID     string `json:"build-id"`
				Info        struct {
					SourceVersion string                `json:"source-version"`
					BuildComplete bool                  `json:"build-complete"`
					Exported      []EnvironmentVariable `json:"exported-environment-variables"`
				} `json:"additional-information"`
			}
			if err := json.Unmarshal(ev.Detail, &detail); err != nil {
				t.Fatal(err)
			}
			if detail.BuildStatus != "SUCCEEDED" || detail.ProjectName != "hello-build" || detail.BuildID != b.Arn || !detail.Info.BuildComplete || detail.Info.SourceVersion != "4f1c2e9" {
				t.Errorf("detail = %+v", detail)
			}
			if got := len(detail.Info.Exported) > 0; got != tt.wantExported {
				t.Errorf("event carries exported variables: %v, want %v", got, tt.wantExported)
			}
		})
	}
}

// TestBatchGetBuilds serves the builds run, with their exported variables,
// and lists unknown ids in buildsNotFound (BatchGetBuilds, AWS CodeBuild
// API Reference); ids are limited to 1–100.
func TestBatchGetBuilds(t *testing.T) {
	svc := New(nil, nil)
	c := codebuild.NewFromConfig(servicetest.Config(t, "codebuild", svc))
	ctx := context.Background()
	b, _, err := svc.RunBuild(RunInput{Project: "hello-build", SourceVersion: "4f1c2e9", Initiator: "ana", Exported: exported})
	if err != nil {
		t.Fatal(err)
	}
	missing := "hello-build:00000000-0000-4000-8000-000000000000"
	out, err := c.BatchGetBuilds(ctx, &codebuild.BatchGetBuildsInput{Ids: []string{b.ID, BuildARN(b.ID), missing}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Builds) != 2 || len(out.BuildsNotFound) != 1 || out.BuildsNotFound[0] != missing {
		t.Fatalf("BatchGetBuilds = %d builds, not found %v; want 2 (by id and by ARN) and the missing id", len(out.Builds), out.BuildsNotFound)
	}
	got := out.Builds[0]
	if aws.ToString(got.Id) != b.ID || aws.ToString(got.Arn) != b.Arn || got.BuildStatus != "SUCCEEDED" || !got.BuildComplete ||
		aws.ToString(got.SourceVersion) != "4f1c2e9" || aws.ToString(got.ProjectName) != "hello-build" || got.StartTime == nil || got.EndTime == nil {
		t.Errorf("build = %+v", got)
	}
	vars := map[string]string{}
	for _, v := range got.ExportedEnvironmentVariables {
		vars[aws.ToString(v.Name)] = aws.ToString(v.Value)
	}
	for _, v := range exported {
		if vars[v.Name] != v.Value {
			t.Errorf("exported %s = %q, want %q", v.Name, vars[v.Name], v.Value)
		}
	}
	for name, ids := range map[string][]string{"no ids": {}, "101 ids": make([]string, 101)} {
		for i := range ids {
			ids[i] = b.ID
		}
		_, err := c.BatchGetBuilds(ctx, &codebuild.BatchGetBuildsInput{Ids: ids})
		var apiErr smithy.APIError
		if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidInputException" {
			t.Errorf("%s: err = %v, want InvalidInputException", name, err)
		}
	}
}

func TestRunBuildRefusesWhatCodeBuildCannotRun(t *testing.T) {
	svc := New(nil, nil)
	for name, in := range map[string]RunInput{
		"no project":         {},
		"project with a dot": {Project: "hello.build"},
		"unfinished status":  {Project: "hello-build", Status: "IN_PROGRESS"},
	} {
		if _, _, err := svc.RunBuild(in); err == nil {
			t.Errorf("%s: RunBuild accepted %+v", name, in)
		}
	}
}

func TestSnapshotKeepsBuilds(t *testing.T) {
	svc := New(nil, nil)
	b, _, err := svc.RunBuild(RunInput{Project: "hello-build", Exported: exported})
	if err != nil {
		t.Fatal(err)
	}
	data, err := svc.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	restored := New(nil, nil)
	if err := restored.Restore(data); err != nil {
		t.Fatal(err)
	}
	got := restored.Builds()
	if len(got) != 1 || got[0].ID != b.ID || len(got[0].ExportedEnvironmentVariables) != len(exported) {
		t.Errorf("restored builds = %+v, want %s", got, b.ID)
	}
	next, _, err := restored.RunBuild(RunInput{Project: "hello-build"})
	if err != nil || next.BuildNumber != 2 {
		t.Errorf("next build number after restore = %d, %v; want 2", next.BuildNumber, err)
	}
}

// TestListBuildsAndALateEvent: ListBuilds pages the account's build ids,
// newest first; a build whose event was not delivered (CodeBuild's events
// are best effort) is still listed and read, and its event can arrive late.
func TestListBuildsAndALateEvent(t *testing.T) {
	bus := events.New(nil, nil, nil)
	t.Cleanup(bus.Close)
	svc := New(bus, nil)
	var ids []string
	for i := range listPage + 3 {
		b, _, err := svc.RunBuild(RunInput{Project: "hello-build", Exported: exported, NoEvent: i == listPage+2})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, b.ID)
	}
	if n := len(bus.Events()); n != listPage+2 {
		t.Fatalf("events = %d, want %d (one build's event dropped)", n, listPage+2)
	}
	client := codebuild.NewFromConfig(servicetest.Config(t, "codebuild", svc))
	var got []string
	p := codebuild.NewListBuildsPaginator(client, &codebuild.ListBuildsInput{})
	pages := 0
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		pages++
		got = append(got, page.Ids...)
	}
	if pages != 2 || len(got) != len(ids) || got[0] != ids[len(ids)-1] || got[len(got)-1] != ids[0] {
		t.Errorf("ListBuilds: %d pages, %d ids, first %s last %s; want 2 pages, %d ids, newest first", pages, len(got), got[0], got[len(got)-1], len(ids))
	}
	late := ids[len(ids)-1]
	id, err := svc.EmitEvent(late)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range bus.Events() {
		if e.ID == id && strings.Contains(string(e.Detail), late) {
			found = true
		}
	}
	if !found {
		t.Errorf("the late event of %s is not on the bus", late)
	}
	if _, err := svc.EmitEvent("hello-build:nope"); err == nil {
		t.Errorf("EmitEvent of an unknown build: no error")
	}
}
