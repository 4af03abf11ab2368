// Package testenv runs real infrastructure programs on loopback for tests:
// kube-apiserver with etcd, CoreDNS, and the NetworkPolicy oracle
// (cyclonus's matcher behind a small CLI).
//
// The programs are built from the helper modules under testdata/tools/ the
// first time they are needed, into <repo>/.cache/bin/<tool>-<hash>/, where the
// hash covers the helper module's go.mod, go.sum and sources and the Go
// version: a version bump rebuilds, everything else reuses the cache. A file
// lock per tool lets parallel `go test` processes share one build.
//
// Only tests import this package.
package testenv
