// Package breaking holds the proof that `go tool task check:breaking`
// fails on a change that breaks the published API: proto/published.binpb
// is the buf image of proto/ as last published (`go tool task
// api:publish`), and buf breaking holds proto/ to it with the FILE rules of
// buf.yaml.
package breaking
