package compare

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/zerocodelab/lab/e2e/doctor"
	"github.com/zerocodelab/lab/e2e/spans"
)

// Recording is one comparison as it was collected, to be built again without the lanes running: the
// fixtures of the package's tests are recordings of a native end-to-end run.
type Recording struct {
	Scenario string           `json:"scenario"`
	Recorded string           `json:"recorded"` // when and on which kernel
	Verdicts []doctor.Verdict `json:"verdicts"` // the doctor's on the machine that recorded it
	// Builds says which build of an agent observed a lane, where the run labelled it (a patched Beyla).
	Builds map[string]string `json:"builds,omitempty"`
	Lanes  []RecordedLane    `json:"lanes"`
}

// RecordedLane is one lane's result with its spans as OTLP JSON.
type RecordedLane struct {
	Result
	Trace   json.RawMessage `json:"trace"`   // the checkout's trace
	Related json.RawMessage `json:"related"` // the lane's spans around it
}

// Record keeps what a comparison was built from, with when and where it was (recorded) and the
// labels of the agents' builds by lane.
func Record(m Matrix, recorded string, verdicts []doctor.Verdict, builds map[string]string) (Recording, error) {
	rec := Recording{Scenario: m.Scenario, Recorded: recorded, Verdicts: verdicts, Builds: builds}
	var marshal ptrace.JSONMarshaler
	for _, r := range m.Results {
		trace, err := marshal.MarshalTraces(spans.ToTraces(r.Trace))
		if err != nil {
			return rec, fmt.Errorf("lane %s: %w", r.Lane.Name, err)
		}
		related, err := marshal.MarshalTraces(spans.ToTraces(r.Related))
		if err != nil {
			return rec, fmt.Errorf("lane %s: %w", r.Lane.Name, err)
		}
		rec.Lanes = append(rec.Lanes, RecordedLane{Result: r, Trace: trace, Related: related})
	}
	return rec, nil
}

// Replay builds the comparison again from what was recorded.
func (rec Recording) Replay() (Matrix, error) {
	sc, ok := ScenarioNamed(rec.Scenario)
	if !ok {
		return Matrix{}, fmt.Errorf("recorded scenario %q is not one of the shop's", rec.Scenario)
	}
	results := make([]Result, len(rec.Lanes))
	for i, l := range rec.Lanes {
		r, err := l.Decode()
		if err != nil {
			return Matrix{}, err
		}
		results[i] = r
	}
	return Build(sc, results, rec.Verdicts), nil
}

// Decode is the lane's result with its recorded spans.
func (l RecordedLane) Decode() (Result, error) {
	var unmarshal ptrace.JSONUnmarshaler
	r := l.Result
	for _, part := range []struct {
		raw json.RawMessage
		dst *[]spans.Span
	}{{l.Trace, &r.Trace}, {l.Related, &r.Related}} {
		td, err := unmarshal.UnmarshalTraces(part.raw)
		if err != nil {
			return r, fmt.Errorf("lane %s: %w", l.Lane.Name, err)
		}
		*part.dst = spans.FromTraces(td)
	}
	return r, nil
}

// Save writes the recording to dir/<scenario>.json.
func (rec Recording) Save(dir string) error {
	data, err := json.Marshal(rec) // compact: indenting the OTLP JSON would double the size
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, rec.Scenario+".json"), append(data, '\n'), 0o644)
}

// LoadRecording reads a recording that Save wrote.
func LoadRecording(path string) (Recording, error) {
	var rec Recording
	data, err := os.ReadFile(path)
	if err != nil {
		return rec, err
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		return rec, fmt.Errorf("%s: %w", path, err)
	}
	return rec, nil
}
