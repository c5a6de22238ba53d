// Package browsertest starts headless Chromium for the web surfaces'
// browser tests and keeps their screenshots.
package browsertest

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/probed/probed/internal/testtool"
)

var screenshotDir = flag.String("screenshots", "", "also copy the browser tests' screenshots to this folder")

// New starts headless Chromium with a fresh profile, stopped when the test
// ends. Without chromium the test is skipped (testtool), unless
// PROBED_REQUIRE_TOOLS=1 (make test, CI), where it fails.
func New(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(testtool.Chromium(t)),
		chromedp.Headless,
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return ctx
}

// SaveShot writes a screenshot to dir, and to -screenshots when given.
func SaveShot(t *testing.T, dir, name string, png []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
	if *screenshotDir != "" {
		os.MkdirAll(*screenshotDir, 0o755)
		os.WriteFile(filepath.Join(*screenshotDir, name), png, 0o644)
	}
}
