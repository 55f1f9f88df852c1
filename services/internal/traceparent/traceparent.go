// Package traceparent reads and writes W3C Trace Context traceparent headers with the standard
// library only, so that the default build can log trace ids without importing OpenTelemetry.
package traceparent

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
)

// Header is the name of the W3C trace context header.
const Header = "traceparent"

// TraceID returns the trace id of a valid traceparent value ("00-<32 hex>-<16 hex>-<2 hex>").
// A malformed value, or one with the all-zero ids the spec forbids, yields ok=false: it is ignored, never trusted.
func TraceID(value string) (traceID string, ok bool) {
	value = strings.TrimSpace(value)
	// version 00 is exactly 55 characters; later versions may append fields after a dash.
	if len(value) < 55 || (len(value) > 55 && value[55] != '-') {
		return "", false
	}
	version, traceID, parentID, flags := value[0:2], value[3:35], value[36:52], value[53:55]
	if value[2] != '-' || value[35] != '-' || value[52] != '-' {
		return "", false
	}
	if !isLowerHex(version) || version == "ff" || (version == "00" && len(value) != 55) {
		return "", false
	}
	if !isLowerHex(traceID) || !isLowerHex(parentID) || !isLowerHex(flags) {
		return "", false
	}
	if allZero(traceID) || allZero(parentID) {
		return "", false
	}
	return traceID, true
}

// New returns a fresh sampled traceparent and its trace id, as a client starting a trace would.
func New() (header, traceID string) {
	var b [24]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	traceID = hex.EncodeToString(b[:16])
	return "00-" + traceID + "-" + hex.EncodeToString(b[16:]) + "-01", traceID
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func allZero(s string) bool {
	return strings.Trim(s, "0") == ""
}
