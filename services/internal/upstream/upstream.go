// Package upstream is the JSON client a service calls another with: the gateway its three upstreams,
// inventory orders.
package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/zerocodelab/lab/services/internal/apierror"
	"github.com/zerocodelab/lab/services/internal/scenario"
)

// Client calls one upstream service.
type Client struct {
	service string // named in errors: "inventory is unreachable"
	baseURL string
	http    *http.Client
}

// NewTransport returns the connection pool a service shares between its upstreams.
func NewTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64 // the fan-out scenario opens several connections to catalog at once
	return t
}

// New returns a client for the service at baseURL, sending requests through rt.
func New(service, baseURL string, rt http.RoundTripper) *Client {
	return &Client{service: service, baseURL: baseURL, http: &http.Client{Transport: rt, Timeout: 10 * time.Second}}
}

// StatusError is a non-2xx answer of an upstream, with the error body it sent.
type StatusError struct {
	Service string
	Status  int
	Body    apierror.Body
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s answered %d %s: %s", e.Service, e.Status, e.Body.Code, e.Body.Message)
}

// Do sends a request with a JSON body (in, when not nil) and decodes a 2xx JSON answer into out.
// The request carries ctx, the incoming request's context: the eBPF agents and the SDK link the
// outgoing call to the incoming one through it. Only the scenario header is added; the default build
// deliberately forwards no traceparent, so any cross-service trace seen in an agent lane is the agent's work.
func (c *Client) Do(ctx context.Context, method, path string, sc scenario.Name, in, out any) error {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("upstream %s: encode request: %w", c.service, err)
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.baseURL+path, body)
	if err != nil {
		return fmt.Errorf("upstream %s: build request: %w", c.service, err)
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set(scenario.Header, string(sc))

	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("upstream %s: %w", c.service, ctx.Err())
		}
		return apierror.Newf(http.StatusBadGateway, "upstream_unreachable", "%s is unreachable at %s", c.service, c.baseURL).Wrap(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return apierror.Newf(http.StatusBadGateway, "upstream_unreachable", "%s broke off its answer", c.service).Wrap(err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		se := &StatusError{Service: c.service, Status: resp.StatusCode}
		if json.Unmarshal(data, &se.Body) != nil || se.Body.Code == "" {
			se.Body = apierror.Body{Code: "unknown", Message: http.StatusText(resp.StatusCode)}
		}
		return se
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return apierror.Newf(http.StatusBadGateway, "upstream_error", "%s sent a malformed answer", c.service).Wrap(err)
		}
	}
	return nil
}

// NotSent reports whether err is a call's failure to reach its upstream at all: no connection could
// be made, so the upstream cannot have acted on the request. Any other failure (a connection broken
// off, a timeout) leaves open whether it did.
func NotSent(err error) bool {
	var opErr *net.OpError
	return errors.As(err, &opErr) && opErr.Op == "dial"
}
