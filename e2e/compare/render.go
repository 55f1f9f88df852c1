package compare

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteText prints the matrix for a terminal: verdicts in a table, then each cell's reason.
func WriteText(w io.Writer, m Matrix) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "scenario %s\t", m.Scenario)
	for _, l := range m.Lanes {
		fmt.Fprintf(tw, "%s\t", l.Name)
	}
	fmt.Fprintln(tw)
	for _, c := range Capabilities {
		fmt.Fprintf(tw, "%s\t", c)
		for _, l := range m.Lanes {
			fmt.Fprintf(tw, "%s\t", m.Cell(c, l.Name).Verdict)
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, c := range Capabilities {
		fmt.Fprintf(w, "%s:\n", c)
		for _, l := range m.Lanes {
			cell := m.Cell(c, l.Name)
			fmt.Fprintf(w, "  %-18s %-8s %s\n", l.Name, cell.Verdict, cell.Reason)
		}
	}
	return nil
}

// WriteMarkdown writes the matrix as a Markdown table, each cell its verdict and reason.
func WriteMarkdown(w io.Writer, m Matrix) error {
	var b strings.Builder
	fmt.Fprintf(&b, "### Scenario `%s`\n\n| capability |", m.Scenario)
	for _, l := range m.Lanes {
		fmt.Fprintf(&b, " %s (%s) |", l.Name, l.Observer)
	}
	b.WriteString("\n|---|")
	b.WriteString(strings.Repeat("---|", len(m.Lanes)))
	b.WriteString("\n")
	for _, c := range Capabilities {
		fmt.Fprintf(&b, "| %s |", c)
		for _, l := range m.Lanes {
			cell := m.Cell(c, l.Name)
			fmt.Fprintf(&b, " **%s** %s |", cell.Verdict, strings.ReplaceAll(cell.Reason, "|", `\|`))
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// barWidth is how many characters the shared time axis of a tree takes.
const barWidth = 32

// WriteTrees prints each lane's tree: one line per span with a bar on the time axis the lanes share.
func WriteTrees(w io.Writer, m Matrix) error {
	axis := time.Duration(0)
	for _, t := range m.Trees {
		axis = max(axis, t.Span)
	}
	var b strings.Builder
	for _, l := range m.Lanes {
		t := m.Trees[l.Name]
		fmt.Fprintf(&b, "%s (%s): ", l.Name, l.Observer)
		if len(t.Nodes) == 0 {
			fmt.Fprintf(&b, "no spans\n")
			continue
		}
		fmt.Fprintf(&b, "trace %s, %d spans over %s\n", t.TraceID, len(t.Nodes), ms(t.Span))
		writeNodes(&b, t, axis)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteTree prints one tree, one line per span, on its own time axis.
func WriteTree(w io.Writer, t Tree) error {
	var b strings.Builder
	writeNodes(&b, t, t.Span)
	_, err := io.WriteString(w, b.String())
	return err
}

func writeNodes(b *strings.Builder, t Tree, axis time.Duration) {
	for _, n := range t.Nodes {
		label := strings.Repeat("  ", n.Depth) + n.Service + " " + n.Kind + " " + n.Name
		if n.Related {
			label = strings.Repeat("  ", n.Depth) + "↳ " + n.Service + " " + n.Kind + " " + n.Name
		}
		line := fmt.Sprintf("  %-58s %s %8s  %s", clip(label, 58), bar(n.Start, n.Duration, axis), ms(n.Duration), details(n))
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
}

// bar draws a span's place on the shared axis.
func bar(start, d, axis time.Duration) string {
	if axis <= 0 {
		return strings.Repeat(" ", barWidth)
	}
	from := int(int64(start) * barWidth / int64(axis))
	n := max(1, int(int64(d)*barWidth/int64(axis)))
	from = min(from, barWidth-1)
	n = min(n, barWidth-from)
	return "|" + strings.Repeat(" ", from) + strings.Repeat("=", n) + strings.Repeat(" ", barWidth-from-n) + "|"
}

// details are the attributes that matter, in a few words.
func details(n Node) string {
	var parts []string
	if n.Route != "" {
		parts = append(parts, "route="+n.Route)
	}
	if n.Status != 0 {
		parts = append(parts, fmt.Sprintf("status=%d", n.Status))
	}
	if n.Statement != "" {
		parts = append(parts, "sql="+clip(n.Statement, 48))
	} else if n.SQL {
		parts = append(parts, "sql=(no statement)")
	}
	if n.Error {
		parts = append(parts, strings.TrimSpace("ERROR "+clip(n.Message, 40)))
	}
	if len(n.Events) > 0 {
		parts = append(parts, "events="+strings.Join(n.Events, ","))
	}
	if n.Related {
		parts = append(parts, "(own trace)")
	}
	return strings.Join(parts, " ")
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
