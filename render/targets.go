package render

import (
	"github.com/vsoc/vsoc/render/cloudformation"
	"github.com/vsoc/vsoc/render/dns"
	"github.com/vsoc/vsoc/render/kube"
	"github.com/vsoc/vsoc/render/proxy"
	"github.com/vsoc/vsoc/render/ssh"
)

// Targets are every kind of artifact vsoc-compile build writes.
func Targets() []Target {
	return []Target{
		{Name: "cloudformation", Render: cloudformation.Render},
		{Name: "dns", Render: dns.Render},
		{Name: "kube", Render: kube.Render},
		{Name: "proxy", Render: proxy.Render},
		{Name: "ssh", Render: ssh.Render},
	}
}

// OutputFolders are the folders at the top of a build's output, one per target. An existing
// output folder is replaced only when it holds nothing else (see Write).
func OutputFolders() []string { return []string{"aws", "dns", "kube", "proxy", "ssh"} }
