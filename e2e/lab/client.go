package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Answer is the comparison POST /api/compare answers, as a client reads it: each lane's checkout, and
// the capability matrix's cells by lane.
type Answer struct {
	Lanes []struct {
		Name, Off, Missing string
		Status             int
	}
	Capabilities []struct {
		Name  string
		Cells map[string]struct{ Verdict, Reason string }
	}
}

// Ask asks the lab page at addr (host:port) to compare one checkout of a scenario in every lane. The
// page waits up to its LAB_TIMEOUT for traces, logs and metrics: Ask allows three minutes.
func Ask(ctx context.Context, addr, scenario string) (Answer, error) {
	var got Answer
	body := strings.NewReader(`{"scenario":"` + scenario + `"}`)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/api/compare", body)
	if err != nil {
		return got, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 3 * time.Minute}).Do(req)
	if err != nil {
		return got, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != http.StatusOK {
		return got, fmt.Errorf("POST /api/compare %s: %d %v", scenario, resp.StatusCode, err)
	}
	return got, nil
}
