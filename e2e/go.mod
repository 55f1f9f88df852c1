module github.com/zerocodelab/lab/e2e

go 1.26.8

require (
	github.com/compose-spec/compose-go/v2 v2.16.2 // indirect
	github.com/prometheus/prometheus v0.315.0 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)
