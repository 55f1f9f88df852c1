//go:build !amd64

package doctor

// emulatedTarget exists on amd64 only; MeasureProbeCost refuses other architectures.
func emulatedTarget() {}
