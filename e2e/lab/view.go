package lab

import (
	"time"

	"github.com/zerocodelab/lab/e2e/compare"
)

// comparison is what the page shows of one comparison: durations in milliseconds, lanes in order.
type comparison struct {
	Scenario     string          `json:"scenario"`
	Lanes        []laneView      `json:"lanes"`
	Capabilities []capabilityRow `json:"capabilities"`
	AxisMS       float64         `json:"axis_ms"` // the longest tree: the time axis every lane shares
}

type laneView struct {
	Name      string     `json:"name"`
	Observer  string     `json:"observer"`
	Off       string     `json:"off,omitempty"`
	Status    int        `json:"status"`
	LatencyMS float64    `json:"latency_ms"`
	TraceID   string     `json:"trace_id"`
	Missing   string     `json:"missing,omitempty"`
	Grafana   string     `json:"grafana,omitempty"` // Explore on this lane's trace
	Nodes     []nodeView `json:"nodes"`
}

type nodeView struct {
	compare.Node
	StartMS    float64 `json:"start_ms"`
	DurationMS float64 `json:"duration_ms"`
}

type capabilityRow struct {
	Name  string                  `json:"name"`
	Cells map[string]compare.Cell `json:"cells"` // by lane name
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (s *Server) view(m compare.Matrix) comparison {
	c := comparison{Scenario: m.Scenario}
	for _, r := range m.Results {
		lv := laneView{
			Name: r.Lane.Name, Observer: string(r.Lane.Observer), Off: r.Off, Status: r.Status,
			LatencyMS: millis(r.Latency), TraceID: r.TraceID, Missing: r.Missing, Nodes: []nodeView{},
		}
		if r.Off == "" && r.Lane.Observer != compare.None {
			lv.Grafana = s.exploreLink(r.TraceID)
		}
		tree := m.Trees[r.Lane.Name]
		c.AxisMS = max(c.AxisMS, millis(tree.Span))
		for _, n := range tree.Nodes {
			lv.Nodes = append(lv.Nodes, nodeView{Node: n, StartMS: millis(n.Start), DurationMS: millis(n.Duration)})
		}
		c.Lanes = append(c.Lanes, lv)
	}
	for _, cap := range compare.Capabilities {
		c.Capabilities = append(c.Capabilities, capabilityRow{Name: string(cap), Cells: m.Cells[cap]})
	}
	return c
}
