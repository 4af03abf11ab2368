// Command etcd is the real etcd server, built from go.etcd.io/etcd/server/v3 at
// the version k8s.io/kubernetes v1.36.0 is tested against, so that tests can
// run kube-apiserver on its own storage without a system package.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
