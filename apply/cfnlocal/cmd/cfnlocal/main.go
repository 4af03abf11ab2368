// Command cfnlocal runs the in-process CloudFormation endpoint on its own, on
// loopback, for dry runs of `vsoc-compile apply` without AWS:
//
//	cfnlocal -listen 127.0.0.1:4566 &
//	AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local \
//	  vsoc-compile apply --endpoint-url http://127.0.0.1:4566 --execute
//
// Stacks live in memory until it is stopped (Ctrl-C).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/vsoc/vsoc/apply/cfnlocal"
	"github.com/vsoc/vsoc/render/cloudformation/spec"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:4566", "loopback address to serve on")
	step := flag.Duration("step", 200*time.Millisecond, "simulated duration of one provisioning step")
	region := flag.String("region", "eu-central-1", "region in ARNs")
	account := flag.String("account", "123456789012", "account ID in ARNs and the caller identity")
	flag.Parse()
	if err := run(*listen, cfnlocal.Options{Step: *step, Region: *region, Account: *account}); err != nil {
		fmt.Fprintln(os.Stderr, "cfnlocal:", err)
		os.Exit(1)
	}
}

func run(listen string, opts cfnlocal.Options) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if opts.Spec, err = spec.Load(); err != nil {
		return err
	}
	server, err := cfnlocal.New(opts)
	if err != nil {
		return err
	}
	url, err := server.ListenAddr(listen)
	if err != nil {
		return err
	}
	fmt.Printf("CloudFormation and STS endpoint on %s\n", url)
	<-ctx.Done()
	return server.Close()
}
