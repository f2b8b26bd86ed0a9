package main

import (
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aliasflow/aliasflow/shared/deploy"
)

// initTimes measures process start → first Runtime API /next, the part of a
// cold start the code controls, for host builds of each Lambda and the floor.
func initTimes(r *report, root, work string, starts int) {
	var b strings.Builder
	fmt.Fprintf(&b, "Process start → first `GET /2018-06-01/runtime/invocation/next`, host build (%s), median of %d starts each. Budget: ≤ 3× the floor.\n\n", hostArch(), starts)
	next := make(chan time.Time, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		r.section("2. Init time", "not measured: "+err.Error())
		return
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if strings.HasSuffix(req.URL.Path, "/invocation/next") {
			select {
			case next <- time.Now():
			default:
			}
			<-req.Context().Done() // hold the request: the process stays in /next until killed
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	measure := func(bin string) (time.Duration, error) {
		var samples []time.Duration
		for i := 0; i < starts; i++ {
			cmd := exec.Command(bin)
			cmd.Env = []string{
				"AWS_LAMBDA_RUNTIME_API=" + ln.Addr().String(),
				"AWS_LAMBDA_FUNCTION_NAME=bench", "AWS_LAMBDA_FUNCTION_VERSION=1", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
				"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
				"AWS_ENDPOINT_URL=http://127.0.0.1:9", deploy.EnvLoopbackOnly + "=1", "AWS_EC2_METADATA_DISABLED=true",
				deploy.EnvSettingsPath + "=/aliasflow/aliasflow/targets/",
				deploy.EnvStateMachineARN + "=arn:aws:states:us-east-1:000000000000:stateMachine:" + deploy.StateMachine,
				deploy.EnvApprovalTopic + "=arn:aws:sns:us-east-1:000000000000:" + deploy.ApprovalTopic,
				deploy.EnvLinkSecret + "=arn:aws:secretsmanager:us-east-1:000000000000:secret:" + deploy.LinkSecret + "-abcdef",
			}
			start := time.Now()
			if err := cmd.Start(); err != nil {
				return 0, err
			}
			select {
			case at := <-next:
				samples = append(samples, at.Sub(start))
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
				return 0, fmt.Errorf("no /next within 10 s (the binary exits at init?)")
			}
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		slices.Sort(samples)
		return samples[len(samples)/2], nil
	}

	floorBin := filepath.Join(work, "host", "floor", "bootstrap")
	if err := goBuild(root, "./bench/floor", floorBin, ""); err != nil {
		r.section("2. Init time", "not measured: "+err.Error())
		return
	}
	floor, err := measure(floorBin)
	if err != nil {
		r.section("2. Init time", "not measured: floor: "+err.Error())
		return
	}
	b.WriteString("| binary | median init | vs floor | budget |\n|---|---:|---:|---|\n")
	fmt.Fprintf(&b, "| hello-world floor | %s | 1.00× | — |\n", ms(floor))
	for _, l := range lambdas {
		bin := filepath.Join(work, "host", l.name, "bootstrap")
		if err := goBuild(root, l.pkg, bin, ""); err != nil {
			fmt.Fprintf(&b, "| %s | — | — | not built |\n", l.name)
			r.missed = append(r.missed, l.name+" init: not built")
			continue
		}
		d, err := measure(bin)
		if err != nil {
			fmt.Fprintf(&b, "| %s | — | — | %s |\n", l.name, r.budget(l.name+" init time", false, err.Error()))
			continue
		}
		ratio := float64(d) / float64(floor)
		fmt.Fprintf(&b, "| %s | %s | %.2f× | %s |\n", l.name, ms(d), ratio,
			r.budget(l.name+" init time", ratio <= 3, fmt.Sprintf("%.2f× of 3×", ratio)))
	}
	r.section("2. Init time", b.String())
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

func hostArch() string {
	out, err := exec.Command("go", "env", "GOOS", "GOARCH").Output()
	if err != nil {
		return "host"
	}
	return strings.Join(strings.Fields(string(out)), "/")
}
