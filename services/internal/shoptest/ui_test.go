package shoptest

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium finds Debian's chromium. CI installs it, so there a missing browser is a failure, not a skip.
func chromium(t *testing.T) string {
	for _, name := range []string{os.Getenv("CHROMIUM"), "chromium", "chromium-browser"} {
		if name == "" {
			continue
		}
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed: .ci/run must install Debian's chromium package")
	}
	t.Skip("chromium not found (apt-get install chromium, or set CHROMIUM): the page test needs a real browser")
	return ""
}

func TestPageBuysAProductAndShowsItsTrace(t *testing.T) {
	browser := chromium(t)
	const grafana = "http://grafana.example:3000"
	shop := Start(t, Options{Env: map[string]string{"LANE": "otel-auto", "GRAFANA_URL": grafana}})

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(browser),
		chromedp.Headless,
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		// The machine has no network beyond loopback: stop the browser from calling home.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	// The first action starts the browser, which lives as long as that call's context: no timeout there.
	if err := chromedp.Do(browserCtx, chromedp.Navigate(shop.URL["gateway"]+"/")); err != nil {
		t.Fatalf("open the page: %v", err)
	}
	ctx, cancel := context.WithTimeout(browserCtx, 60*time.Second)
	defer cancel()
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return v
	}
	attr := func(sel, name string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.AttributeValue(sel, name))
		if err != nil {
			t.Fatalf("read %s[%s]: %v", sel, name, err)
		}
		return v.Value
	}

	err := chromedp.Do(ctx,
		chromedp.WaitVisible(`button.buy`),
		chromedp.SetValue(`#quantity`, "2"),
		chromedp.Click(`button.buy`), // the first row: the catalog is sorted by SKU, ceramic-mug first
		chromedp.WaitVisible(`#result .trace-id`),
	)
	if err != nil {
		t.Fatalf("buy on the page: %v", err)
	}
	lane, traceID, outcome, href := text(`#lane`), text(`#result .trace-id`), text(`#result .outcome`), attr(`#result .trace-link`, "href")
	if !strings.Contains(lane, "otel-auto") {
		t.Errorf("lane badge = %q; want otel-auto", lane)
	}
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(traceID) {
		t.Fatalf("trace id shown = %q; want 32 hex digits", traceID)
	}
	if !strings.Contains(outcome, "order ") || !strings.Contains(outcome, "2 x ceramic-mug") {
		t.Errorf("outcome shown = %q; want the order of 2 x ceramic-mug", outcome)
	}
	link, err := url.Parse(href)
	if err != nil || !strings.HasPrefix(href, grafana+"/explore?") || !strings.Contains(link.Query().Get("panes"), `"query":"`+traceID+`"`) ||
		!strings.Contains(link.Query().Get("panes"), `"uid":"tempo"`) {
		t.Errorf("trace link = %q; want Grafana Explore on the tempo datasource for %s", href, traceID)
	}
	// The id on the page is the one the browser sent: the gateway logged it from the traceparent header.
	if !logged(shop, "gateway", `"route":"/api/checkout"`, `"trace_id":"`+traceID+`"`) {
		t.Errorf("the gateway never saw trace id %s: the page did not send its traceparent", traceID)
	}

	// A failing scenario is shown as such, with its trace too.
	err = chromedp.Do(ctx,
		chromedp.SetValue(`#scenario`, "error"),
		chromedp.Click(`button.buy`),
		chromedp.WaitVisible(`#result.failed`),
	)
	if err != nil {
		t.Fatalf("buy with the error scenario: %v", err)
	}
	failed := text(`#result .outcome`)
	if !strings.Contains(failed, "502 upstream_error") || !strings.Contains(failed, "scenario error") {
		t.Errorf("error scenario shown as %q; want 502 upstream_error saying why", failed)
	}
	if path := os.Getenv("SCREENSHOT"); path != "" { // for a person to look at the page: SCREENSHOT=page.png
		if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
			os.WriteFile(path, png, 0o644)
		}
	}
}
