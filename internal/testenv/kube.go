package testenv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// KubeEnv is a running kube-apiserver with its own etcd, both on loopback.
// The admin credentials are a client certificate in system:masters, so with
// RBAC the tests' client is cluster-admin.
type KubeEnv struct {
	// Kubeconfig is the path of an admin kubeconfig (credentials embedded).
	Kubeconfig string
	// Config is the same admin access for client-go; copy it before changing.
	Config *rest.Config
	// URL is the API server's base URL, https://127.0.0.1:PORT.
	URL string
	// Dir holds the certificates, etcd's data and both programs' logs.
	Dir string

	etcd, apiserver *process
}

// KubeAPIServer starts etcd and kube-apiserver for t (building them on first
// use, ~7 min cold) and stops them when t ends. Starting takes ~10-20 s; tests
// that share one server should use a SharedKube.
func KubeAPIServer(t testing.TB) *KubeEnv {
	t.Helper()
	binDir := mustBuild(t, kubeTool())
	env, err := startKube(t.Context(), binDir, t.TempDir())
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			env.logTails(t)
		}
		env.stop()
	})
	return env
}

// SharedKube starts one KubeEnv on first use and hands the same one to every
// later caller, so a test binary pays the start-up once. Keep it in a
// package-level variable of the test package and call Stop after m.Run in
// TestMain:
//
//	var kube testenv.SharedKube
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		kube.Stop()
//		os.Exit(code)
//	}
//
// Tests sharing a server should work in namespaces of their own.
type SharedKube struct {
	once sync.Once
	env  *KubeEnv
	dir  string
	err  error
}

// Get returns the shared server, starting it if this is the first call. If it
// could not be started, every caller fails with the same error.
func (s *SharedKube) Get(t testing.TB) *KubeEnv {
	t.Helper()
	s.once.Do(func() {
		binDir, err := buildTool(t.Context(), kubeTool())
		if err != nil {
			s.err = err
			return
		}
		// Not t.TempDir: the server outlives the test that starts it.
		s.dir, err = os.MkdirTemp("", "vsoc-testenv-kube-")
		if err != nil {
			s.err = fmt.Errorf("creating the kube work dir: %w", err)
			return
		}
		// Start-up must not be cut short when the first test ends; only the
		// test binary's own deadline applies.
		s.env, s.err = startKube(context.WithoutCancel(t.Context()), binDir, s.dir)
	})
	if s.err != nil {
		t.Fatalf("testenv: %v", s.err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			s.env.logTails(t)
		}
	})
	return s.env
}

// Stop stops the shared server, if one was started, and removes its files.
func (s *SharedKube) Stop() {
	if s.env != nil {
		s.env.stop()
	}
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
}

func (env *KubeEnv) stop() {
	// The API server first, so it does not spend its shutdown retrying etcd.
	if env.apiserver != nil {
		env.apiserver.stop()
	}
	if env.etcd != nil {
		env.etcd.stop()
	}
}

// logTails puts the end of both logs into the failed test's output.
func (env *KubeEnv) logTails(t testing.TB) {
	for _, p := range []*process{env.etcd, env.apiserver} {
		if p != nil {
			t.Logf("testenv: last lines of %s:\n%s", p.logPath, p.logTail(8192))
		}
	}
}

func startKube(ctx context.Context, binDir, dir string) (*KubeEnv, error) {
	env := &KubeEnv{Dir: dir}
	started := false
	defer func() {
		if !started {
			env.stop()
		}
	}()
	pki, err := writePKI(dir, time.Now())
	if err != nil {
		return nil, fmt.Errorf("kube PKI: %w", err)
	}
	ports, err := freeTCPPorts(3)
	if err != nil {
		return nil, err
	}
	etcdURL := "http://" + netip.AddrPortFrom(loopback(), uint16(ports[0])).String()
	peerURL := "http://" + netip.AddrPortFrom(loopback(), uint16(ports[1])).String()
	apiAddr := netip.AddrPortFrom(loopback(), uint16(ports[2]))
	env.URL = "https://" + apiAddr.String()

	env.etcd, err = startProcess("etcd", dir, filepath.Join(dir, "etcd.log"), filepath.Join(binDir, "etcd"),
		"--name=testenv",
		"--data-dir="+filepath.Join(dir, "etcd-data"),
		"--listen-client-urls="+etcdURL,
		"--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL,
		"--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=testenv="+peerURL,
		// Test data is thrown away; fsync only slows every write down.
		"--unsafe-no-fsync",
		"--log-level=warn",
	)
	if err != nil {
		return nil, err
	}
	if err := env.etcd.waitFor(ctx, time.Minute, etcdHealthy(etcdURL)); err != nil {
		return nil, err
	}

	env.apiserver, err = startProcess("kube-apiserver", dir, filepath.Join(dir, "kube-apiserver.log"), filepath.Join(binDir, "kube-apiserver"),
		"--etcd-servers="+etcdURL,
		"--bind-address="+apiAddr.Addr().String(),
		"--advertise-address="+apiAddr.Addr().String(),
		"--secure-port="+strconv.Itoa(int(apiAddr.Port())),
		"--tls-cert-file="+pki.servingCert,
		"--tls-private-key-file="+pki.servingKey,
		"--client-ca-file="+pki.caCert,
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+pki.serviceAccountPub,
		"--service-account-signing-key-file="+pki.serviceAccountKey,
		"--service-cluster-ip-range=10.96.0.0/16",
		// A loopback address may not be an Endpoints address; without
		// this the server would keep failing to publish itself.
		"--endpoint-reconciler-type=none",
		// No controller-manager creates default ServiceAccounts, so the
		// ServiceAccount plugin would reject every Pod; NamespaceLifecycle
		// stays so that objects in a missing namespace fail as in a cluster.
		"--enable-admission-plugins=NamespaceLifecycle",
		"--disable-admission-plugins=ServiceAccount",
		"--cert-dir="+filepath.Join(dir, "cert-dir"),
		"--profiling=false",
	)
	if err != nil {
		return nil, err
	}
	httpClient, err := adminHTTPClient(pki)
	if err != nil {
		return nil, err
	}
	if err := env.apiserver.waitFor(ctx, 3*time.Minute, apiserverReady(httpClient, env.URL)); err != nil {
		return nil, err
	}

	env.Kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := writeKubeconfig(env.Kubeconfig, env.URL, pki); err != nil {
		return nil, err
	}
	env.Config, err = clientcmd.BuildConfigFromFlags("", env.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", env.Kubeconfig, err)
	}
	// Tests apply many objects in a row; client-go's default of 5 requests
	// per second would make them crawl.
	env.Config.QPS, env.Config.Burst = 200, 400
	started = true
	return env, nil
}

func etcdHealthy(etcdURL string) func(context.Context) error {
	return func(ctx context.Context) error {
		body, err := get(ctx, http.DefaultClient, etcdURL+"/health")
		if err != nil {
			return err
		}
		var health struct {
			Health string `json:"health"`
		}
		if err := json.Unmarshal(body, &health); err != nil {
			return fmt.Errorf("etcd /health: %w", err)
		}
		if health.Health != "true" {
			return fmt.Errorf("etcd /health says %s", body)
		}
		return nil
	}
}

func apiserverReady(client *http.Client, url string) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := get(ctx, client, url+"/readyz")
		return err
	}
}

func get(ctx context.Context, client *http.Client, url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
	}
	return body, nil
}

func adminHTTPClient(pki *pkiFiles) (*http.Client, error) {
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pki.caPEM) {
		return nil, errors.New("testenv: the generated CA certificate does not parse")
	}
	cert, err := tls.X509KeyPair(pki.adminCertPEM, pki.adminKeyPEM)
	if err != nil {
		return nil, fmt.Errorf("loading the admin client certificate: %w", err)
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs:      roots,
		Certificates: []tls.Certificate{cert},
	}}}, nil
}

func writeKubeconfig(path, url string, pki *pkiFiles) error {
	const name = "vsoc-testenv"
	config := clientcmdapi.NewConfig()
	config.Clusters[name] = &clientcmdapi.Cluster{Server: url, CertificateAuthorityData: pki.caPEM}
	config.AuthInfos[adminUser] = &clientcmdapi.AuthInfo{ClientCertificateData: pki.adminCertPEM, ClientKeyData: pki.adminKeyPEM}
	config.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: adminUser}
	config.CurrentContext = name
	if err := clientcmd.WriteToFile(*config, path); err != nil {
		return fmt.Errorf("writing kubeconfig %s: %w", path, err)
	}
	return nil
}
