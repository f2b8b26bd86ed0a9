// Package browser tests the approval page the way an approver meets it: in
// headless Chromium (Debian's package), driven over the DevTools protocol
// with chromedp, against the sandbox world that runs the whole pipeline.
// This file is the small helper the tests share: finding and launching
// Chromium with the flags a hermetic test needs, opening a page and saving
// its screenshot.
package browser

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// Environment variables the browser tests read.
const (
	// EnvSkip, set to 1, skips the browser tests on a machine without
	// Chromium. It must be set on purpose: a missing browser otherwise fails
	// the tests, so CI cannot pass them by accident.
	EnvSkip = "ALIASFLOW_SKIP_BROWSER"
	// EnvChromium overrides where Chromium is looked for.
	EnvChromium = "ALIASFLOW_CHROMIUM"
)

// DefaultChromium is where Debian's chromium package installs the browser.
const DefaultChromium = "/usr/bin/chromium"

// ErrNoChromium is returned by FindChromium when no browser is installed.
var ErrNoChromium = errors.New("chromium is not installed")

// FindChromium returns the path of the Chromium binary: $ALIASFLOW_CHROMIUM,
// else /usr/bin/chromium, else chromium on the PATH. The error says how to
// install it.
func FindChromium() (string, error) {
	candidates := []string{DefaultChromium, "chromium"}
	if p := os.Getenv(EnvChromium); p != "" {
		candidates = []string{p}
	}
	for _, c := range candidates {
		if p, err := exec.LookPath(c); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w (looked for %v): install it with `apt-get install -y chromium` (CI's .ci/run does), "+
		"point %s at another build, or set %s=1 to skip the browser tests on purpose", ErrNoChromium, candidates, EnvChromium, EnvSkip)
}

// allocatorOptions are the flags every test browser runs with: headless, no
// first-run or background traffic (the page is on loopback and nothing else
// may be reached), and a profile of its own.
func allocatorOptions(execPath, userDataDir string, output *lockedBuffer) []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(execPath),
		chromedp.Headless,
		// Containers and CI runners have no user namespaces for the sandbox.
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("force-color-profile", "srgb"),
		// Screenshots need a font size and layout that do not depend on the
		// machine's display.
		chromedp.Flag("hide-scrollbars", true),
		chromedp.WindowSize(1280, 900),
		chromedp.UserDataDir(userDataDir),
		// Chromium's own chatter (D-Bus, GPU) is kept for a failure message,
		// not printed.
		chromedp.CombinedOutput(output),
	}
}

// Browser is one running Chromium. Tabs opened with Tab share it and may be
// used in parallel.
type Browser struct {
	ctx    context.Context
	cancel context.CancelFunc
	output *lockedBuffer
}

// Launch starts Chromium at execPath with a fresh profile in userDataDir.
// The browser lives until Close or until ctx ends.
func Launch(ctx context.Context, execPath, userDataDir string) (*Browser, error) {
	out := &lockedBuffer{}
	actx, acancel := chromedp.NewExecAllocator(ctx, allocatorOptions(execPath, userDataDir, out)...)
	bctx, bcancel := chromedp.NewContext(actx)
	b := &Browser{ctx: bctx, output: out, cancel: func() { bcancel(); acancel() }}
	// The first action on the context starts the browser; doing it here
	// binds the browser's life to ctx, not to the first test's deadline.
	if err := chromedp.Do(bctx); err != nil {
		b.cancel()
		return nil, fmt.Errorf("start %s: %w\n%s", execPath, err, out.String())
	}
	return b, nil
}

// Tab opens a new tab; cancel closes it.
func (b *Browser) Tab() (context.Context, context.CancelFunc) {
	return chromedp.NewContext(b.ctx)
}

// Output is what Chromium printed so far, for a failure message.
func (b *Browser) Output() string { return b.output.String() }

// Close stops the browser and waits for it to exit.
func (b *Browser) Close() { b.cancel() }

// Open navigates the tab to url and returns the HTTP response of the
// document: its status and headers as the browser saw them.
func Open(ctx context.Context, url string) (*network.Response, error) {
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(url))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", url, err)
	}
	return resp, nil
}

// Screenshot saves a full-page PNG of the tab as dir/name.png and returns
// its path.
func Screenshot(ctx context.Context, dir, name string) (string, error) {
	png, err := chromedp.Run(ctx, fullPagePNG)
	if err != nil {
		return "", fmt.Errorf("screenshot %s: %w", name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("screenshot %s: %w", name, err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return "", fmt.Errorf("screenshot %s: %w", name, err)
	}
	return path, nil
}

// fullPagePNG captures the whole document, not just the viewport: the
// clip is the page's content size, captured beyond the viewport.
func fullPagePNG(ctx context.Context, t *chromedp.Target) ([]byte, error) {
	m, err := cdp.Call(ctx, t, page.GetLayoutMetrics, cdp.Empty{})
	if err != nil {
		return nil, err
	}
	if m.CSSContentSize == nil {
		return nil, errors.New("the page reported no content size")
	}
	beyond := true
	res, err := cdp.Call(ctx, t, page.CaptureScreenshot, page.CaptureScreenshotParams{
		Format:                page.CaptureScreenshotFormatPng,
		CaptureBeyondViewport: &beyond,
		Clip:                  &page.Viewport{Width: math.Ceil(m.CSSContentSize.Width), Height: math.Ceil(m.CSSContentSize.Height), Scale: 1},
	})
	if err != nil {
		return nil, err
	}
	return res.Data, nil
}

// lockedBuffer collects the browser's output, written from the process's
// pipe while a test may read it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
