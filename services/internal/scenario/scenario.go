// Package scenario names the behaviours a checkout can ask for, so the telemetry has something to show.
// The gateway passes the scenario downstream in the plain header X-Scenario.
package scenario

import (
	"fmt"
	"net/http"
	"slices"
)

// Header carries the scenario from the gateway to the other services.
const Header = "X-Scenario"

// Name is one scenario.
type Name string

const (
	Normal     Name = "normal"       // every call succeeds
	Slow       Name = "slow"         // inventory sleeps before it reserves
	Error      Name = "error"        // inventory fails with a 500
	OutOfStock Name = "out_of_stock" // inventory refuses with a 409: a business outcome, not a server error
	NotFound   Name = "not_found"    // catalog answers 404 for the product
	Fanout     Name = "fanout"       // the gateway prices every product concurrently before it buys
)

// All lists every scenario, in the order the UI shows them.
var All = []Name{Normal, Slow, Error, OutOfStock, NotFound, Fanout}

// Parse returns the scenario named s; the empty string means Normal.
func Parse(s string) (Name, error) {
	if s == "" {
		return Normal, nil
	}
	if !slices.Contains(All, Name(s)) {
		return "", fmt.Errorf("unknown scenario %q (want one of %v)", s, All)
	}
	return Name(s), nil
}

// FromRequest reads the scenario header of an incoming request.
func FromRequest(r *http.Request) (Name, error) {
	return Parse(r.Header.Get(Header))
}
