package lab

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/zerocodelab/lab/e2e/compare"
)

// replay answers each scenario with the comparison recorded in a native end-to-end run (the compare
// package's fixtures): the real agents' and SDK's spans, without the lanes running.
type replay struct{ t *testing.T }

func (r replay) Compare(_ context.Context, sc compare.Scenario) compare.Matrix {
	rec, err := compare.LoadRecording(filepath.Join("..", "compare", "testdata", sc.Name+".json"))
	if err != nil {
		r.t.Errorf("the recorded %s comparison: %v", sc.Name, err)
		return compare.Matrix{Scenario: sc.Name}
	}
	m, err := rec.Replay()
	if err != nil {
		r.t.Errorf("replay %s: %v", sc.Name, err)
	}
	return m
}

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

// One click on Compare shows every lane's tree and the matrix. LAB_SCREENSHOT=file keeps a picture.
func TestOneClickShowsEveryLanesTreeAndTheMatrix(t *testing.T) {
	browser := chromium(t)
	srv := httptest.NewServer(NewServer(replay{t}, "http://grafana.example:3000", slog.New(slog.DiscardHandler)).Handler())
	defer srv.Close()
	want, err := compare.LoadRecording(filepath.Join("..", "compare", "testdata", "error.json"))
	if err != nil {
		t.Fatal(err)
	}

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(browser),
		chromedp.Headless,
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1600, 1400),
		// The machine has no network beyond loopback: stop the browser from calling home.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
	)
	defer cancelAlloc()
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	// The first action starts the browser, which lives as long as that call's context: no timeout there.
	if err := chromedp.Do(browserCtx, chromedp.Navigate(srv.URL+"/")); err != nil {
		t.Fatalf("open the page: %v", err)
	}
	ctx, cancel := context.WithTimeout(browserCtx, 60*time.Second)
	defer cancel()
	count := func(sel string) int {
		t.Helper()
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+strconv.Quote(sel)+`).length`))
		if err != nil {
			t.Fatalf("count %s: %v", sel, err)
		}
		return n
	}

	err = chromedp.Do(ctx,
		chromedp.WaitReady(`#scenario option[value="error"]`), // an option of a closed select is never "visible"
		chromedp.SetValue(`#scenario`, "error"),
		chromedp.Click(`#go`),
		chromedp.WaitVisible(`#trees .tree`),
	)
	if err != nil {
		state, _ := chromedp.Run(browserCtx, chromedp.Evaluate[string](`document.getElementById("state").textContent`))
		t.Fatalf("click Compare: %v; the page says: %s", err, state)
	}
	if n := count(`#trees .tree`); n != len(want.Lanes) {
		t.Errorf("%d lane trees shown; want %d", n, len(want.Lanes))
	}
	if n := count(`#matrix tbody tr`); n != len(compare.Capabilities) {
		t.Errorf("%d matrix rows; want one per capability, %d", n, len(compare.Capabilities))
	}
	if n := count(`#matrix tbody td.cell`); n != len(compare.Capabilities)*len(want.Lanes) {
		t.Errorf("%d matrix cells; want %d", n, len(compare.Capabilities)*len(want.Lanes))
	}
	// Every lane's spans are drawn, one row each, as the comparison has them.
	m, err := want.Replay()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range want.Lanes {
		sel := `#trees .tree[data-lane="` + l.Lane.Name + `"] .span`
		if n, spans := count(sel), len(m.Trees[l.Lane.Name].Nodes); n != spans {
			t.Errorf("lane %s: %d span rows; want %d", l.Lane.Name, n, spans)
		}
	}
	// The error is drawn where it happened, and the lanes with spans link to Grafana.
	if n := count(`#trees .span.err`); n == 0 {
		t.Error("the error scenario shows no span marked as an error")
	}
	if n := count(`#matrix a.grafana[href^="http://grafana.example:3000/explore"]`); n != len(want.Lanes)-1 {
		t.Errorf("%d View in Grafana links; want one per lane with spans (%d)", n, len(want.Lanes)-1)
	}
	if path := os.Getenv("LAB_SCREENSHOT"); path != "" {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
