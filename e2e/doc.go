// Package e2e checks the showcase as a whole: the compose files, the Collector, Prometheus and Grafana
// configurations, against the services they observe.
package e2e
