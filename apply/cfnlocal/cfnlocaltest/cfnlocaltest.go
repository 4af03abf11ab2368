// Package cfnlocaltest gives tests a cfnlocal endpoint and the real SDK configuration that
// reaches it.
package cfnlocaltest

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"

	"github.com/vsoc/vsoc/apply/cfnlocal"
	"github.com/vsoc/vsoc/render/cloudformation/spec"
)

// Region is the endpoint's default region, the one it checks signatures for.
const Region = "eu-central-1"

// Start starts an endpoint on loopback whose provisioning steps take step each, closed when the
// test ends; it returns the endpoint and its URL.
func Start(tb testing.TB, step time.Duration) (*cfnlocal.Server, string) {
	tb.Helper()
	sp, err := spec.Load()
	if err != nil {
		tb.Fatal(err)
	}
	server, err := cfnlocal.New(cfnlocal.Options{Spec: sp, Step: step})
	if err != nil {
		tb.Fatal(err)
	}
	url, err := server.Listen()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { server.Close() })
	return server, url
}

// Config is an SDK configuration with static credentials in Region and the given retryer.
func Config(retryer func() aws.Retryer) aws.Config {
	return aws.Config{
		Region:      Region,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDLOCAL", "secret", ""),
		Retryer:     retryer,
	}
}

// Client is a CloudFormation client of cfg that talks to the endpoint at url.
func Client(cfg aws.Config, url string) *cfn.Client {
	return cfn.NewFromConfig(cfg, func(o *cfn.Options) { o.BaseEndpoint = aws.String(url) })
}
