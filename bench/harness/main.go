// Command harness is the Go side of bench/run.sh: a DNS server answering the benchmark name, the
// idle-connection memory probe, and the report that puts every figure side by side.
//
//	harness dns    -listen 127.0.0.1:29353 -name localhost -addr 127.0.0.2
//	harness idle   -target 127.0.0.1:29444 -sni localhost -n 9000 -pids 123,124
//	harness report results.tsv
package main

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: harness dns|idle|report ...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "dns":
		err = runDNS(os.Args[2:])
	case "idle":
		err = runIdle(os.Args[2:])
	case "report":
		err = runReport(os.Args[2:])
	default:
		err = fmt.Errorf("unknown subcommand %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "harness:", err)
		os.Exit(1)
	}
}

// runDNS answers A queries for one name until SIGTERM.
func runDNS(args []string) error {
	fs := flag.NewFlagSet("dns", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:29353", "UDP address to serve on")
	name := fs.String("name", "localhost", "name to answer")
	addr := fs.String("addr", "127.0.0.2", "IPv4 address answered")
	ttl := fs.Uint("ttl", 300, "TTL of the answer")
	fs.Parse(args)
	ip, err := netip.ParseAddr(*addr)
	if err != nil || !ip.Is4() {
		return fmt.Errorf("-addr %q is not an IPv4 address", *addr)
	}
	fqdn := dns.Fqdn(*name)
	srv := &dns.Server{Addr: *listen, Net: "udp", Handler: dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		resp := new(dns.Msg)
		resp.SetReply(req)
		if q := req.Question[0]; strings.EqualFold(q.Name, fqdn) && q.Qtype == dns.TypeA {
			resp.Answer = append(resp.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: uint32(*ttl)}, A: ip.AsSlice()})
		} else if !strings.EqualFold(q.Name, fqdn) {
			resp.Rcode = dns.RcodeNameError
		}
		w.WriteMsg(resp)
	})}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
		srv.Shutdown()
	}()
	return srv.ListenAndServe()
}

// rssKiB sums VmRSS of the given processes.
func rssKiB(pids []int) (int64, error) {
	var total int64
	for _, pid := range pids {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			return 0, fmt.Errorf("reading RSS of %d: %w", pid, err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				if err != nil {
					return 0, fmt.Errorf("parsing VmRSS of %d: %w", pid, err)
				}
				total += kb
			}
		}
	}
	return total, nil
}

// runIdle opens n TLS connections through a proxy, completes their handshakes with the backend,
// leaves them idle and reports how much the proxy processes' RSS grew per connection.
func runIdle(args []string) error {
	fs := flag.NewFlagSet("idle", flag.ExitOnError)
	target := fs.String("target", "", "proxy address")
	sni := fs.String("sni", "localhost", "server name")
	n := fs.Int("n", 9000, "connections")
	pidList := fs.String("pids", "", "comma-separated PIDs of the proxy processes")
	conc := fs.Int("concurrency", 32, "parallel handshakes")
	settle := fs.Duration("settle", 3*time.Second, "wait before measuring")
	fs.Parse(args)
	var pids []int
	for _, p := range strings.Split(*pidList, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil {
			return fmt.Errorf("-pids: %q is not a PID", p)
		}
		pids = append(pids, v)
	}
	before, err := rssKiB(pids)
	if err != nil {
		return err
	}
	conns := make([]*tls.Conn, *n)
	var next atomic.Int64
	var failed atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < *conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= *n {
					return
				}
				d := &net.Dialer{Timeout: 10 * time.Second}
				c, err := tls.DialWithDialer(d, "tcp", *target, &tls.Config{ServerName: *sni, InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
				if err != nil {
					failed.Add(1)
					once.Do(func() { firstErr = err })
					continue
				}
				conns[i] = c
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	time.Sleep(*settle)
	after, err := rssKiB(pids)
	if err != nil {
		return err
	}
	ok := int64(*n) - failed.Load()
	// Prove the connections are still proxied end to end.
	alive := 0
	for _, c := range conns {
		if c == nil {
			continue
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, "GET /small HTTP/1.1\r\nHost: localhost\r\n\r\n"); err == nil {
			buf := make([]byte, 12)
			if _, err := io.ReadFull(c, buf); err == nil && strings.HasPrefix(string(buf), "HTTP/1.1 200") {
				alive++
			}
		}
		if alive >= 100 {
			break
		}
	}
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
	res := map[string]any{
		"connections": ok, "failed": failed.Load(), "handshake_s": elapsed.Seconds(),
		"rss_before_kib": before, "rss_after_kib": after, "alive_checked": alive,
	}
	if ok > 0 {
		res["kib_per_conn"] = float64(after-before) / float64(ok)
	}
	if firstErr != nil {
		res["first_error"] = firstErr.Error()
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// runReport reads "target<TAB>metric<TAB>value" lines and prints the table of medians with the
// ratios the issue asks for, and the range of the ratio to the better peer over the rounds: the
// n-th value of every target comes from the same round, measured back to back, so the ratio
// within a round is the least disturbed by load from elsewhere on the machine.
func runReport(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: harness report results.tsv")
	}
	f, err := os.Open(args[0])
	if err != nil {
		return fmt.Errorf("opening results: %w", err)
	}
	defer f.Close()
	values := map[string]map[string][]float64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.Split(sc.Text(), "\t")
		if len(parts) != 3 {
			continue
		}
		v, err := strconv.ParseFloat(parts[2], 64)
		if err != nil {
			continue
		}
		if values[parts[1]] == nil {
			values[parts[1]] = map[string][]float64{}
		}
		values[parts[1]][parts[0]] = append(values[parts[1]][parts[0]], v)
	}
	metrics := []struct {
		key, label   string
		lowerIsBest  bool
		compareToDir bool
	}{
		{"bulk_MBps", "bulk throughput, 1 TLS stream (MB/s)", false, true},
		{"newconn_rps", "new TLS connections/s (wrk, Connection: close)", false, true},
		{"keepalive_rps", "keep-alive requests/s (wrk, HTTP/1.1)", false, true},
		{"h2_rps", "keep-alive requests/s (h2load, HTTP/2)", false, true},
		{"bulk_cpu_ms_per_GiB", "proxy CPU per GiB of bulk (ms)", true, false},
		{"newconn_cpu_us", "proxy CPU per new connection (µs)", true, false},
		{"keepalive_cpu_us", "proxy CPU per keep-alive request (µs)", true, false},
		{"h2_cpu_us", "proxy CPU per HTTP/2 request (µs)", true, false},
		{"idle_kib_per_conn", "KiB per idle proxied connection", true, false},
	}
	targets := []string{"direct", "vsoc", "nginx", "nginx-hc", "haproxy"}
	// The peers, nginx as it comes and HAProxy; and the peers that do the work vsoc does
	// at a close, relaying half-closes (nginx's stream proxy does with proxy_half_close on).
	peerSets := [][]string{{"nginx", "haproxy"}, {"nginx-hc", "haproxy"}}
	fmt.Printf("%-48s", "metric (median of runs)")
	for _, t := range targets {
		fmt.Printf("%10s", t)
	}
	fmt.Printf("%12s%24s%24s\n", "vsoc/direct", "vsoc/best-peer (rounds)", "vsoc/best-hc (rounds)")
	for _, m := range metrics {
		row := values[m.key]
		if row == nil {
			continue
		}
		fmt.Printf("%-48s", m.label)
		med := map[string]float64{}
		for _, t := range targets {
			if vs := row[t]; len(vs) > 0 {
				med[t] = median(vs)
				fmt.Printf("%10.1f", med[t])
			} else {
				fmt.Printf("%10s", "-")
			}
		}
		vsoc, hasV := med["vsoc"]
		if d, ok := med["direct"]; ok && hasV && m.compareToDir && d > 0 {
			fmt.Printf("%12.2f", vsoc/d)
		} else {
			fmt.Printf("%12s", "-")
		}
		for _, peers := range peerSets {
			fmt.Printf("%24s", peerColumn(row, med, peers, m.lowerIsBest))
		}
		fmt.Println()
	}
	return nil
}

// peerColumn is vsoc's median against the better of peers' medians, with the range of that ratio
// over the rounds: "0.97 (0.84-1.00)". "-" without figures for vsoc or the peers.
func peerColumn(row map[string][]float64, med map[string]float64, peers []string, lowerIsBest bool) string {
	vsoc, hasV := med["vsoc"]
	best, have := 0.0, false
	for _, p := range peers {
		if v, ok := med[p]; ok && (!have || (lowerIsBest && v < best) || (!lowerIsBest && v > best)) {
			best, have = v, true
		}
	}
	if !have || !hasV || best == 0 || vsoc == 0 {
		return "-"
	}
	col := fmt.Sprintf("%.2f", peerRatio(vsoc, best, lowerIsBest))
	if lo, hi, ok := roundRatios(row, peers, lowerIsBest); ok {
		col += fmt.Sprintf(" (%.2f-%.2f)", lo, hi)
	}
	return col
}

// peerRatio is vsoc's figure against the better peer's, so that above 1 means vsoc is better:
// best peer / vsoc where lower is better.
func peerRatio(vsoc, best float64, lowerIsBest bool) float64 {
	if lowerIsBest {
		return best / vsoc
	}
	return vsoc / best
}

// roundRatios is the lowest and highest ratio of vsoc to the better of peers within one round;
// only rounds that measured vsoc and every peer count.
func roundRatios(row map[string][]float64, peers []string, lowerIsBest bool) (lo, hi float64, ok bool) {
	rounds := len(row["vsoc"])
	for _, p := range peers {
		rounds = min(rounds, len(row[p]))
	}
	for i := range rounds {
		best := row[peers[0]][i]
		for _, p := range peers[1:] {
			if v := row[p][i]; (lowerIsBest && v < best) || (!lowerIsBest && v > best) {
				best = v
			}
		}
		if best == 0 || row["vsoc"][i] == 0 {
			continue
		}
		r := peerRatio(row["vsoc"][i], best, lowerIsBest)
		if !ok {
			lo, hi, ok = r, r, true
		}
		lo, hi = min(lo, r), max(hi, r)
	}
	return lo, hi, ok
}

func median(vs []float64) float64 {
	s := append([]float64(nil), vs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
