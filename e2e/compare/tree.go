package compare

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/zerocodelab/lab/e2e/spans"
)

// Node is one span of a lane's tree, with what a reader compares between lanes.
type Node struct {
	Depth     int           `json:"depth"`
	Service   string        `json:"service"`
	Kind      string        `json:"kind"` // SERVER, CLIENT, INTERNAL...
	Name      string        `json:"name"`
	Start     time.Duration `json:"start"`    // from the first span of the tree
	Duration  time.Duration `json:"duration"` // the span's own
	Route     string        `json:"route,omitempty"`
	Status    int           `json:"status,omitempty"`    // the HTTP status code, 0 when none
	SQL       bool          `json:"sql,omitempty"`       // a database call
	Statement string        `json:"statement,omitempty"` // the SQL text, when the span carries it
	Error     bool          `json:"error,omitempty"`     // the span's status is an error
	Message   string        `json:"message,omitempty"`   // the status message
	Events    []string      `json:"events,omitempty"`    // event names
	Related   bool          `json:"related,omitempty"`   // from another trace: the service started its own
}

// Tree is one checkout's spans as a tree: parents before their children, siblings by start time.
type Tree struct {
	TraceID string        `json:"trace_id"`
	Nodes   []Node        `json:"nodes"`
	Span    time.Duration `json:"span"` // from the first start to the last end
}

// BuildTree lays out trace, and under each CLIENT span the trace that answered it when the called
// service started its own (related, by the CLIENT span's id: see Relate), on one time axis that starts
// at the earliest span of them all.
func BuildTree(traceID string, trace []spans.Span, related map[string][]spans.Span) Tree {
	b := treeBuilder{tree: Tree{TraceID: traceID}, related: related}
	all := slices.Clone(trace)
	for _, r := range related {
		all = append(all, r...)
	}
	if len(all) == 0 {
		return b.tree
	}
	b.first = all[0].StartTimestamp()
	last := all[0].EndTimestamp()
	for _, sp := range all {
		b.first, last = min(b.first, sp.StartTimestamp()), max(last, sp.EndTimestamp())
	}
	b.tree.Span = time.Duration(last - b.first)
	b.forest(trace, false, 0)
	return b.tree
}

type treeBuilder struct {
	tree    Tree
	related map[string][]spans.Span
	first   pcommon.Timestamp
}

// forest adds the trees of spans: each span whose parent is not among them is a root.
func (b *treeBuilder) forest(trace []spans.Span, related bool, depth int) {
	children := map[string][]spans.Span{}
	ids := map[string]bool{}
	for _, sp := range trace {
		ids[sp.SpanID().String()] = true
	}
	var roots []spans.Span
	for _, sp := range trace {
		if parent := sp.ParentSpanID().String(); ids[parent] {
			children[parent] = append(children[parent], sp)
		} else {
			roots = append(roots, sp)
		}
	}
	var add func(sp spans.Span, depth int)
	add = func(sp spans.Span, depth int) {
		b.tree.Nodes = append(b.tree.Nodes, b.node(sp, depth, related))
		kids := children[sp.SpanID().String()]
		byStart(kids)
		for _, kid := range kids {
			add(kid, depth+1)
		}
		if r, ok := b.related[sp.SpanID().String()]; ok {
			b.forest(r, true, depth+1)
		}
	}
	byStart(roots)
	for _, root := range roots {
		add(root, depth)
	}
}

func (b *treeBuilder) node(sp spans.Span, depth int, related bool) Node {
	n := Node{
		Depth:     depth,
		Service:   sp.Service,
		Kind:      strings.ToUpper(sp.Kind().String()),
		Name:      sp.Name(),
		Start:     time.Duration(sp.StartTimestamp() - b.first),
		Duration:  time.Duration(sp.EndTimestamp() - sp.StartTimestamp()),
		Route:     sp.Route(),
		Status:    statusCode(sp),
		SQL:       isSQL(sp),
		Statement: statement(sp),
		Error:     sp.IsError(),
		Message:   sp.Status().Message(),
		Related:   related,
	}
	for _, ev := range sp.Events().All() {
		n.Events = append(n.Events, ev.Name())
	}
	return n
}

func byStart(s []spans.Span) {
	slices.SortStableFunc(s, func(a, b spans.Span) int { return cmp.Compare(a.StartTimestamp(), b.StartTimestamp()) })
}

// statusCode is a span's HTTP status code in the current or the older convention, 0 when it has none.
func statusCode(sp spans.Span) int {
	for _, key := range []string{"http.response.status_code", "http.status_code"} {
		v, ok := sp.Attributes().Get(key)
		if !ok {
			continue
		}
		if v.Type() == pcommon.ValueTypeInt {
			return int(v.Int())
		}
		if n, err := strconv.Atoi(v.AsString()); err == nil {
			return n
		}
	}
	return 0
}

// isSQL reports whether a span is a database call, in any of the conventions the lanes use.
func isSQL(sp spans.Span) bool {
	return sp.Attr("db.system.name") != "" || sp.Attr("db.system") != "" || statement(sp) != ""
}

// statement is the SQL text a span carries, "" when it carries none.
func statement(sp spans.Span) string {
	if s := sp.Attr("db.query.text"); s != "" {
		return s
	}
	return sp.Attr("db.statement")
}

// isServerPhase reports whether a span is one of the INTERNAL spans Beyla puts under each SERVER span:
// the time the request waited for a goroutine ("in queue") and the time it was handled ("processing").
// They split the SERVER span; they show none of the shop's own functions.
func isServerPhase(observer Observer, sp spans.Span) bool {
	return observer == Beyla && sp.Kind() == ptrace.SpanKindInternal && (sp.Name() == "in queue" || sp.Name() == "processing")
}

// isServer and isClient say a span's kind.
func isServer(sp spans.Span) bool { return sp.Kind() == ptrace.SpanKindServer }
func isClient(sp spans.Span) bool { return sp.Kind() == ptrace.SpanKindClient }
