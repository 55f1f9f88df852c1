package traceparent

import "testing"

func TestTraceID(t *testing.T) {
	const id = "4bf92f3577b34da6a3ce929d0e0e4736"
	tests := []struct {
		value string
		want  string
		ok    bool
	}{
		{"00-" + id + "-00f067aa0ba902b7-01", id, true},
		{" 00-" + id + "-00f067aa0ba902b7-00 ", id, true},
		{"01-" + id + "-00f067aa0ba902b7-01-extra", id, true},  // a later version may carry more fields
		{"00-" + id + "-00f067aa0ba902b7-01-extra", "", false}, // version 00 may not
		{"ff-" + id + "-00f067aa0ba902b7-01", "", false},
		{"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "", false}, // upper case is invalid
		{"00-00000000000000000000000000000000-00f067aa0ba902b7-01", "", false},
		{"00-" + id + "-0000000000000000-01", "", false},
		{"00-" + id + "-00f067aa0ba902b7", "", false},
		{"00_" + id + "_00f067aa0ba902b7_01", "", false},
		{"00-" + id[:31] + "g-00f067aa0ba902b7-01", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := TraceID(tt.value)
		if got != tt.want || ok != tt.ok {
			t.Errorf("TraceID(%q) = %q, %v; want %q, %v", tt.value, got, ok, tt.want, tt.ok)
		}
	}
}

func TestNewIsValid(t *testing.T) {
	header, id := New()
	got, ok := TraceID(header)
	if !ok || got != id {
		t.Fatalf("New() = %q, %q; TraceID of it = %q, %v", header, id, got, ok)
	}
	if other, _ := New(); other == header {
		t.Fatal("two calls to New returned the same header")
	}
}

func FuzzTraceID(f *testing.F) {
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	f.Add("zz")
	f.Fuzz(func(t *testing.T, value string) {
		id, ok := TraceID(value)
		if ok && (len(id) != 32 || !isLowerHex(id) || allZero(id)) {
			t.Fatalf("TraceID(%q) accepted an invalid id %q", value, id)
		}
	})
}
