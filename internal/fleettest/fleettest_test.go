package fleettest

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/vsoc/vsoc/compiler"
)

func customerNames(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	for _, c := range Plan(t, dir).Customers {
		names = append(names, c.Customer.Name)
	}
	return names
}

func TestSamplePlanIsTheRepositorysFleet(t *testing.T) {
	p := SamplePlan(t)
	want := []string{"cubebikes", "documentation", "stadtwerke-bielefeld", "wacker", "wobcom"}
	var names []string
	for _, c := range p.Customers {
		names = append(names, c.Customer.Name)
	}
	if !slices.Equal(names, want) {
		t.Errorf("sample customers %v, want %v", names, want)
	}
	if c := Customer(t, p, "wacker"); c.Customer.Name != "wacker" || c != &p.Customers[3] {
		t.Errorf("Customer(wacker) = %s, not the plan's own entry", c.Customer.Name)
	}
}

func TestCopySampleCopiesEveryFile(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "customers")
	CopySample(t, dst)
	src := SampleDir(t)
	files := 0
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		want, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if got, err := os.ReadFile(filepath.Join(dst, rel)); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s was not copied as it is (%v)", rel, err)
		}
		return nil
	})
	if err != nil || files < 6 {
		t.Fatalf("walking the sample fleet: %d files, %v", files, err)
	}
	if got, want := customerNames(t, dst), customerNames(t, SampleDir(t)); !slices.Equal(got, want) {
		t.Errorf("the copy plans customers %v, the sample %v", got, want)
	}
}

func TestSyntheticPlanHasNCustomers(t *testing.T) {
	p := SyntheticPlan(t, 3)
	if len(p.Customers) != 3 || p.Customers[2].Customer.Name != "c00002" {
		t.Fatalf("synthetic plan of 3: %d customers", len(p.Customers))
	}
	if got := p.Customers[1].Customer.VPC.CIDRs; !slices.Equal(got, []string{"100.66.1.0/24"}) {
		t.Errorf("c00001's VPC %v, want fleetgen's 100.66.1.0/24", got)
	}
}

func TestWobcomCopiesHaveTheirOwnNamesAndDomains(t *testing.T) {
	p := WobcomCopies(t, 3)
	if len(p.Customers) != 3 {
		t.Fatalf("%d customers, want 3", len(p.Customers))
	}
	domains := map[string]bool{}
	for i, c := range p.Customers {
		if want := fmt.Sprintf("customer-%05d", i); c.Customer.Name != want {
			t.Errorf("customer %d is %s, want %s", i, c.Customer.Name, want)
		}
		if len(c.Customer.Proxy.Static) == 0 || len(c.Customer.Services) == 0 {
			t.Errorf("%s lacks wobcom's static mappings or services", c.Customer.Name)
		}
		domains[c.Customer.DNS.Domains[0]] = true
	}
	if len(domains) != 3 {
		t.Errorf("domains %v, want three distinct", domains)
	}
}

// failures records what a helper reports instead of failing the test.
type failures struct {
	testing.TB
	reported []string
}

func (f *failures) Helper() {}

func (f *failures) Errorf(format string, args ...any) {
	f.reported = append(f.reported, fmt.Sprintf(format, args...))
}

func (f *failures) Fatalf(format string, args ...any) {
	f.Errorf(format, args...)
	runtime.Goexit()
}

func TestCheckDeterministicCatchesABuildThatVaries(t *testing.T) {
	builds := 0
	varying := func(p *compiler.Plan) (map[string][]byte, error) {
		builds++
		return map[string][]byte{"a": []byte("same"), "b": fmt.Appendf(nil, "build %d", builds)}, nil
	}
	reported := recordFatal(t, func(tb testing.TB) { CheckDeterministic(tb, varying) })
	if builds != 3 || len(reported) != 2 || !strings.Contains(reported[0], "GOMAXPROCS=2: b differs") {
		t.Errorf("after %d builds CheckDeterministic reported %q; want b's difference at GOMAXPROCS 2 and 8", builds, reported)
	}
	CheckDeterministic(t, func(p *compiler.Plan) (map[string][]byte, error) {
		return map[string][]byte{"customers": []byte(fmt.Sprint(len(p.Customers)))}, nil
	})
}

// recordFatal runs f against a failures recorder on a goroutine of its own,
// as a Fatal ends the goroutine it is called on.
func recordFatal(t *testing.T, f func(tb testing.TB)) []string {
	r := &failures{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r.reported
}

func TestRenderSampleRendersTheSamplePlan(t *testing.T) {
	plan, files := RenderSample(t, func(p *compiler.Plan) (map[string][]byte, error) {
		return map[string][]byte{"n": fmt.Append(nil, len(p.Customers))}, nil
	})
	if len(plan.Customers) != 5 || string(files["n"]) != "5" {
		t.Errorf("RenderSample: %d customers, files %q; want the sample's 5 rendered", len(plan.Customers), files)
	}
	reported := recordFatal(t, func(tb testing.TB) {
		RenderSample(tb, func(*compiler.Plan) (map[string][]byte, error) { return nil, errors.New("boom") })
	})
	if len(reported) != 1 || !strings.Contains(reported[0], "rendering the sample fleet: boom") {
		t.Errorf("a failing render reported %q", reported)
	}
}

func TestSampleAndSyntheticRunsBothFleets(t *testing.T) {
	sizes := map[string]int{}
	SampleAndSynthetic(t, 2, func(t *testing.T, p *compiler.Plan) {
		sizes[t.Name()] = len(p.Customers)
	})
	want := map[string]int{t.Name() + "/sample": 5, t.Name() + "/synthetic": 2}
	if !maps.Equal(sizes, want) {
		t.Errorf("subtests and their fleet sizes %v, want %v", sizes, want)
	}
}

func TestWriteOutReplacesTheFolder(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	WriteOut(t, out, map[string][]byte{"aws/a.json": []byte("1"), "stale/x": []byte("old")})
	WriteOut(t, out, map[string][]byte{"aws/a.json": []byte("2"), "kube/clusters/hub/rendered.yaml": []byte("k")})
	for name, want := range map[string]string{"aws/a.json": "2", "kube/clusters/hub/rendered.yaml": "k"} {
		if got, err := os.ReadFile(filepath.Join(out, filepath.FromSlash(name))); err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", name, got, err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "stale")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a file of the previous build survived: %v", err)
	}
}

func TestEditReplacesTheFirstOccurrenceOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wobcom.cue")
	if err := os.WriteFile(path, []byte("port: 8443\nport: 8443\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	Edit(t, path, "port: 8443", "port: 8444")
	if got, _ := os.ReadFile(path); string(got) != "port: 8444\nport: 8443\n" {
		t.Errorf("after Edit: %q", got)
	}
	reported := recordFatal(t, func(tb testing.TB) { Edit(tb, path, "asn: 65101", "asn: 65102") })
	if len(reported) != 1 || !strings.Contains(reported[0], `does not contain "asn: 65101"`) {
		t.Errorf("an edit that does not apply reported %q", reported)
	}
}
