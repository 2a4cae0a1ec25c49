// Package deploy checks what Molar ships for running in production: the
// container image's Dockerfile (linted, and built by the same commands as
// `go tool task build`), deploy/compose.yaml and the Prometheus
// configuration. It is a module of its own, so that the linters it uses
// stay out of the server's dependencies. deploy/nginx/molar.conf is run for
// real by cmd/molar/nginx_test.go.
package deploy
