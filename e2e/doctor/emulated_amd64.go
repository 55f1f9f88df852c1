package doctor

// emulatedTarget is the function the probe on an emulated instruction attaches to (emulated_amd64.s).
func emulatedTarget()
