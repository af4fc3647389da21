package detect

// Test helpers for the external test package (the CRS benchmarks and
// corpus test live there: package crs imports detect).
var (
	TypicalRequest = typicalRequest
	AttackRequest  = attackRequest
)
