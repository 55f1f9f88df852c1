//go:build compose

package stack

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/zerocodelab/lab/e2e/doctor"
	"github.com/zerocodelab/lab/e2e/native"
	"github.com/zerocodelab/lab/e2e/report"
	"github.com/zerocodelab/lab/e2e/wait"
)

// beylaLane says whether the engine has Beyla's image, which the beyla lane needs, and if not, why:
// it cannot be pulled here, and make images builds it only from a Beyla binary the user gives.
func beylaLane(ctx context.Context) (ok bool, why string, err error) {
	env, err := native.DotEnv(root)
	if err != nil {
		return false, "", err
	}
	comps, err := Components(ctx, env)
	if err != nil {
		return false, "", err
	}
	if b := ComponentNamed(comps, "Beyla"); b.Origin == Missing {
		return false, b.Image + " is not on the engine: it cannot be pulled here, and make images builds it only from a Beyla binary you give (BEYLA_BIN)", nil
	}
	return true, "", nil
}

// checkBeyla waits for Beyla to instrument the beyla lane's four services, checks that its SERVER spans
// name only routes each service serves (beyla-config.yml's patterns), and that a checkout sent then is
// one trace across the four services exactly where the doctor says Beyla can link them here.
func checkBeyla(ctx context.Context, t *testing.T, rep *report.Report, run *Run, client *http.Client, gateway string) {
	rep.Section("Beyla (one container in the beyla lane's PID namespace)")
	facts := waitBeyla(ctx, t, rep, run)
	checkServerRoutes(ctx, t, rep, run, "beyla", "Beyla attached to another process, or beyla-config.yml's patterns are not the services' routes")

	// A checkout now that Beyla watches: one trace across the four services, or four traces.
	links, why := doctor.CanLink(doctor.Verdicts(facts), doctor.Beyla)
	s := Checkout(ctx, client, "beyla", gateway)
	if s.Status != http.StatusCreated {
		t.Fatalf("the beyla checkout answered %d", s.Status)
	}
	inTrace := map[string]bool{}
	err := wait.Eventually(ctx, "the beyla checkout's spans", time.Minute, 2*time.Second, func() error {
		received, err := run.Spans()
		if err != nil {
			return err
		}
		for _, sp := range received {
			if sp.TraceID().String() == s.TraceID {
				inTrace[sp.Service] = true
			}
		}
		want := 1
		if links {
			want = len(native.Services)
		}
		if len(inTrace) < want {
			return fmt.Errorf("services so far: %v", sortedKeys(inTrace))
		}
		return nil
	})
	rep.Printf("checkout trace %s: services %v; the doctor, for this build: %s\n", s.TraceID, sortedKeys(inTrace), why)
	switch {
	case err != nil:
		t.Errorf("%v (links expected: %v, %s)", err, links, why)
	case !links && len(inTrace) > 1:
		t.Errorf("the checkout's trace crosses services %v although the doctor says Beyla cannot link them here: %s", sortedKeys(inTrace), why)
	}
}

// waitBeyla waits until Beyla instruments the beyla lane's four services, checks its version against
// .env, reports which build it is, and returns the kernel's facts with what that build does.
func waitBeyla(ctx context.Context, t *testing.T, rep *report.Report, run *Run) doctor.Facts {
	t.Helper()
	logs, err := native.WaitInstrumented(ctx, 2*time.Minute, "/app", func() (string, error) { return run.Logs(ctx, "beyla") })
	if err != nil {
		t.Fatalf("%v\n%s", err, report.Tail(logs, 3000))
	}
	// The official build cannot discover processes without kprobes: one that did polls /proc.
	facts := doctor.Inspect()
	facts.BeylaPollsProc = !facts.Kprobes
	version := native.BeylaVersion(logs)
	if err := native.PinnedBeyla(root, version); err != nil {
		t.Error(err)
	}
	label := (&native.Beyla{Version: version}).Label(facts.Kprobes)
	rep.Printf("%s: instrumented /app/gateway, /app/catalog, /app/inventory, /app/orders\n", label)
	return facts
}
