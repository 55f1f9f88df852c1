package native

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/zerocodelab/lab/e2e/checkout"
	"github.com/zerocodelab/lab/e2e/proc"
)

// LaneSpec says how to start one lane.
type LaneSpec struct {
	Name string
	Bins string // directory holding the four binaries
	// Dir is the lane's own directory: it gets a copy of each binary (a file of the lane's own, since
	// uprobes attach to a file and lanes sharing one would share every agent's probes) and the SQLite files.
	Dir string
	// Env is the environment of one service besides what StartLane sets (its address, data directory,
	// lane, service name and upstreams); it may override those too. Nil adds nothing.
	Env func(service string) []string
	// Logs, when set, receives every line a service prints on stdout (its JSON log), one line per Write,
	// as a container's logging driver would; the lines are kept in the process's Output either way.
	Logs func(service string) io.Writer
}

// Lane is one copy of the shop running as processes on loopback ports the kernel picked.
type Lane struct {
	Name  string
	URL   map[string]string // base URL by service
	Procs map[string]*proc.Process
}

// StartLane starts the lane's services on 127.0.0.1:0, each once its upstreams listen, and returns once
// every one has logged its "listening" line with the address it got. On error, whatever it started is killed.
func StartLane(ctx context.Context, spec LaneSpec) (*Lane, error) {
	l := &Lane{Name: spec.Name, URL: map[string]string{}, Procs: map[string]*proc.Process{}}
	data := filepath.Join(spec.Dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, err
	}
	for _, svc := range Services {
		bin := filepath.Join(spec.Dir, svc)
		if err := copyFile(filepath.Join(spec.Bins, svc), bin); err != nil {
			return nil, errors.Join(err, l.Kill())
		}
		env := append(os.Environ(),
			"ADDR=127.0.0.1:0", "DATA_DIR="+data, "LANE="+spec.Name,
			"OTEL_SERVICE_NAME="+svc, "OTEL_RESOURCE_ATTRIBUTES=service.namespace="+spec.Name,
			"CATALOG_URL="+l.URL["catalog"], "INVENTORY_URL="+l.URL["inventory"], "ORDERS_URL="+l.URL["orders"])
		if spec.Env != nil {
			env = append(env, spec.Env(svc)...)
		}
		stdout := &listenWatch{found: make(chan string, 1)}
		if spec.Logs != nil {
			stdout.copy = spec.Logs(svc)
		}
		p, err := proc.Start(proc.Command{Path: bin, Env: env, Stdout: stdout})
		if err != nil {
			return nil, errors.Join(err, l.Kill())
		}
		l.Procs[svc] = p
		select {
		case addr := <-stdout.found:
			l.URL[svc] = "http://" + addr
		case <-p.Exited():
			return nil, errors.Join(fmt.Errorf("%s of lane %s exited (%v) before it listened:\n%s", svc, spec.Name, p.State(), p.Output()), l.Kill())
		case <-time.After(30 * time.Second):
			return nil, errors.Join(fmt.Errorf("%s of lane %s logged no \"listening\" line in 30 s:\n%s", svc, spec.Name, p.Output()), l.Kill())
		case <-ctx.Done():
			return nil, errors.Join(ctx.Err(), l.Kill())
		}
	}
	return l, nil
}

// Browse sends the lane's gateway what a shopper's visit would: a checkout and a product listing. It
// gives an agent that has just attached something to see.
func (l *Lane) Browse(ctx context.Context, client *http.Client) error {
	buy, err := checkout.Request(ctx, l.URL["gateway"], checkout.Order{SKU: "ceramic-mug", Quantity: 1}, checkout.Traceparent{})
	if err != nil {
		return err
	}
	list, err := http.NewRequestWithContext(ctx, http.MethodGet, l.URL["gateway"]+"/api/products", nil)
	if err != nil {
		return err
	}
	for _, req := range []*http.Request{buy, list} {
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("lane %s: %s %s: %w", l.Name, req.Method, req.URL.Path, err)
		}
		_, err = io.Copy(io.Discard, resp.Body)
		if err = errors.Join(err, resp.Body.Close()); err != nil {
			return fmt.Errorf("lane %s: %s %s: %w", l.Name, req.Method, req.URL.Path, err)
		}
	}
	return nil
}

// Kill kills every process of the lane.
func (l *Lane) Kill() error {
	var errs []error
	for _, p := range l.Procs {
		errs = append(errs, p.Kill())
	}
	return errors.Join(errs...)
}

// listenWatch receives a service's stdout line by line: it reports the address of the shop's
// "listening" line once, and copies every line to copy, when set.
type listenWatch struct {
	mu      sync.Mutex
	partial []byte
	copy    io.Writer
	found   chan string
	seen    bool
}

func (w *listenWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := w.partial[:i+1]
		if !w.seen {
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(line, &rec) == nil && rec.Msg == "listening" && rec.Addr != "" {
				w.seen = true
				w.found <- rec.Addr
			}
		}
		if w.copy != nil {
			w.copy.Write(line) // a log copy that fails must not stop the service's output
		}
		w.partial = w.partial[i+1:]
	}
}

// copyFile copies an executable to a new file, a new inode.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
