package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zerocodelab/lab/e2e/native"
	"github.com/zerocodelab/lab/e2e/wait"
)

// build compiles the lab's binary, as its image does.
func build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "lab")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func TestABadSettingStopsTheLabAtStartNamingIt(t *testing.T) {
	bin := build(t)
	cmd := exec.Command(bin)
	cmd.Env = []string{"LAB_TIMEOUT=forever", "TEMPO_URL=tempo:3200"}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("exit %v; want status 2\n%s", err, out)
	}
	for _, setting := range []string{"LAB_TIMEOUT", "TEMPO_URL"} {
		if !bytes.Contains(out, []byte(setting)) {
			t.Errorf("the message does not name %s:\n%s", setting, out)
		}
	}
}

func TestTheLabServesAndStopsOnSIGTERM(t *testing.T) {
	bin := build(t)
	addrs, err := native.FreeAddrs(1)
	if err != nil {
		t.Fatal(err)
	}
	addr := addrs[0]
	var out bytes.Buffer
	cmd := exec.Command(bin)
	cmd.Env = []string{"LAB_ADDR=" + addr}
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	err = wait.Eventually(context.Background(), "the lab's /healthz", 10*time.Second, 100*time.Millisecond, func() error {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return errors.New(resp.Status)
		}
		return nil
	})
	if err != nil {
		cmd.Process.Kill()
		t.Fatalf("%v\n%s", err, out.String())
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("after SIGTERM: %v\n%s", err, out.String())
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("still running 10 s after SIGTERM")
	}
	if !strings.Contains(out.String(), `"msg":"listening"`) {
		t.Errorf("no listening line:\n%s", out.String())
	}
}
