package doctor

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"time"
)

// ProbeHits are what one request of each workload cost the lanes of the eBPF agents (otel-auto, beyla)
// in uprobe hits and in the run time of their eBPF programs, as `make bench` counted them (the kernel's
// run statistics of the agents' programs). The doctor cannot count them itself, as it runs no agent; it
// predicts from the last bench run on this machine.
type ProbeHits struct {
	Kernel  string    `json:"kernel"`
	Counted time.Time `json:"counted"`
	// Lanes are the agent lanes the bench ran, by name.
	Lanes map[string]LaneProbes `json:"lanes"`
}

// LaneProbes is one lane's count, by workload.
type LaneProbes struct {
	Hits map[string]float64 `json:"hits_per_request"`
	// Stepped are the hits of programs attached where the kernel single-steps the instruction
	// (SiteKind); the others' it emulates.
	Stepped     map[string]float64 `json:"stepped_hits_per_request"`
	ProgramTime map[string]float64 `json:"program_us_per_request"` // the programs' own run time, µs
	// Wakeups are the times a request's events wake the agent's reader: its spans, divided by the
	// events the agent lets gather before a wakeup.
	Wakeups map[string]float64 `json:"wakeups_per_request"`
	// Measured is what the bench measured: the lane's services' processor time per request less
	// plain's, µs, to set the prediction against.
	Measured map[string]float64 `json:"measured_extra_us_per_request"`
}

// ReadProbeHits reads what Save wrote.
func ReadProbeHits(path string) (ProbeHits, error) {
	var h ProbeHits
	data, err := os.ReadFile(path)
	if err != nil {
		return h, err
	}
	if err := json.Unmarshal(data, &h); err != nil {
		return h, fmt.Errorf("%s: %w", path, err)
	}
	return h, nil
}

// Save writes the hits as JSON.
func (h ProbeHits) Save(path string) error {
	data, err := json.MarshalIndent(h, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// Predict prints each agent lane's extra processor time per request that the counts imply at this probe
// cost, in the traced services, on top of their own work (Extra). It leaves out what the agent's own
// process spends reading the events and building spans, which is not the services'.
func (c ProbeCost) Predict(w io.Writer, h ProbeHits, kernel string) {
	fmt.Fprintf(w, "predicted extra processor time of the traced services per request, from what make bench counted (%s, kernel %s):\n",
		h.Counted.Format(time.DateOnly), h.Kernel)
	for _, lane := range slices.Sorted(maps.Keys(h.Lanes)) {
		l := h.Lanes[lane]
		for _, workload := range slices.Sorted(maps.Keys(l.Hits)) {
			stepped := l.Stepped[workload]
			p := c.Extra(l, workload)
			fmt.Fprintf(w, "  %-10s %-9s %s, between %s (warm) and %s (cold)", lane, workload, micros(p.Estimate()), micros(p.Warm), micros(p.Cold))
			if m, ok := l.Measured[workload]; ok && p.Estimate() > 0 {
				fmt.Fprintf(w, "; make bench measured %s, %.2f of the estimate", micros(us(m)), m/(float64(p.Estimate())/float64(time.Microsecond)))
			}
			fmt.Fprintln(w)
			fmt.Fprintf(w, "  %-20s %.1f hits single-stepped, %.1f emulated; %s of its programs; %.2f wakeups x %s\n",
				"", stepped, l.Hits[workload]-stepped, micros(us(l.ProgramTime[workload])), l.Wakeups[workload], micros(c.Wakeup))
		}
	}
	if h.Kernel != kernel {
		fmt.Fprintf(w, "  the hits were counted on kernel %s, this is %s: run make bench here to count them again\n", h.Kernel, kernel)
	}
}

// Prediction is an agent lane's extra processor time per request, with every hit at its warm cost and
// with every hit at its cold cost (ProbeCost). A service falls between the two, as far as its own work
// and the machine's other processes push the trap's code and data out of the core's cache between two
// hits, which no count here tells.
type Prediction struct{ Warm, Cold time.Duration }

// Estimate is the middle of the two: half the hits cold.
func (p Prediction) Estimate() time.Duration { return (p.Warm + p.Cold) / 2 }

// Extra is the processor time a request of workload costs the services of an agent lane with these
// counts: every hit's trap, at the cost of its kind (measured with a program that does nothing,
// PerHit and PerHitCold), the time the agent's programs themselves ran, and every wakeup of the agent's
// reader (Wakeup).
func (c ProbeCost) Extra(l LaneProbes, workload string) Prediction {
	stepped, emulated := l.Stepped[workload], l.Hits[workload]-l.Stepped[workload]
	rest := us(l.ProgramTime[workload]) + time.Duration(l.Wakeups[workload]*float64(c.Wakeup))
	return Prediction{
		Warm: time.Duration(stepped*float64(c.PerHit(Stepped))+emulated*float64(c.PerHit(Emulated))) + rest,
		Cold: time.Duration(stepped*float64(c.PerHitCold(Stepped))+emulated*float64(c.PerHitCold(Emulated))) + rest,
	}
}

func us(v float64) time.Duration { return time.Duration(v * float64(time.Microsecond)) }
