// Package report collects what a run of the lab saw, to print at the end and keep under build/, and the
// log of the commands it ran.
package report

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// Report collects what the run saw, section by section, to print at the end and keep under build/.
type Report struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Printf adds a line (or several) to the report.
func (r *Report) Printf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(&r.buf, format, args...)
}

// Section starts a titled part of the report.
func (r *Report) Section(title string) { r.Printf("\n== %s ==\n", title) }

// WriteTo prints the report.
func (r *Report) WriteTo(w io.Writer) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n, err := w.Write(r.buf.Bytes())
	return int64(n), err
}

// Save writes the report to path, creating its directory.
func (r *Report) Save(path string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, r.buf.Bytes(), 0o644)
}

// Log keeps the commands a run made and their output, safe for concurrent writers.
type Log struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Tail is the last n bytes of s, marked as cut when they are not all of it: a process's output in an error.
func Tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
