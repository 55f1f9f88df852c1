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

// ProbeHits are the uprobe hits one request of each workload cost the Go auto agent's lane, as
// `make bench` counted them (the kernel's run counts of the agents' eBPF programs). The doctor cannot
// count them itself, as it runs no agent; it predicts from the last bench run on this machine.
type ProbeHits struct {
	Kernel     string             `json:"kernel"`
	Counted    time.Time          `json:"counted"`
	PerRequest map[string]float64 `json:"per_request"` // by workload
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

// Predict prints the agent's cost per request that the hits imply at this probe cost: processor time
// the traced services spend in uprobe traps, on top of their own work.
func (c ProbeCost) Predict(w io.Writer, h ProbeHits, kernel string) {
	fmt.Fprintf(w, "predicted cost of the Go auto agent per request, from the uprobe hits make bench counted (%s, kernel %s):\n",
		h.Counted.Format(time.DateOnly), h.Kernel)
	for _, workload := range slices.Sorted(maps.Keys(h.PerRequest)) {
		hits := h.PerRequest[workload]
		fmt.Fprintf(w, "  %-10s %5.1f hits x %s = %s of the services' processor time\n",
			workload, hits, micros(c.PerHit()), micros(time.Duration(hits*float64(c.PerHit()))))
	}
	if h.Kernel != kernel {
		fmt.Fprintf(w, "  the hits were counted on kernel %s, this is %s: run make bench here to count them again\n", h.Kernel, kernel)
	}
}
