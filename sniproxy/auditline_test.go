package sniproxy

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

// TestAuditLineIsSlogJSON compares appendAuditLine with log/slog's JSON handler, the format the
// audit has always had, over records with every optional field present and absent, durations
// from nothing to hours, and strings that need escaping.
func TestAuditLineIsSlogJSON(t *testing.T) {
	strs := []string{"", "localhost", "a\"b\\c", "tab\there\nnew\rline", "\x00\x01\x1f\x7f", "bad\xff\xfeutf8",
		"\u2028\u2029", "héllo wörld ✓ 𝄞", "<script>&amp;</script>", "reading ClientHello: EOF"}
	durations := []time.Duration{0, 1, 999, 1500, time.Microsecond, 3 * time.Millisecond, 1160217, time.Second, 90 * time.Minute}
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func() string { return strs[rng.IntN(len(strs))] }
	clients := []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:53776"), netip.MustParseAddrPort("[::1]:443"),
		netip.MustParseAddrPort("[fd00::a:1]:65535"), netip.MustParseAddrPort("10.1.2.3:0"), netip.MustParseAddrPort("[::ffff:10.0.0.1]:80")}
	start := time.Date(2026, 11, 22, 13, 7, 17, 652781353, time.UTC)
	for i := range 2000 {
		rec := &connRecord{
			start: start, client: clients[rng.IntN(len(clients))], listener: pick(), name: pick(), decision: pick(), reason: pick(),
			up: rng.Int64N(1 << 40), down: rng.Int64N(10), configGen: rng.Uint64N(1 << 20),
		}
		if i%2 == 0 {
			rec.port = uint16(rng.IntN(65536))
		}
		switch i % 3 {
		case 0:
			rec.target = netip.MustParseAddrPort("127.0.0.2:29443")
		case 1:
			rec.target = netip.MustParseAddrPort("[fd00::1]:443")
		}
		if i%5 == 0 {
			rec.relayErr = errors.New(pick())
		}
		end := start.Add(durations[i%len(durations)])
		if got, want := appendAuditLine(nil, end, rec), slogAuditLine(end, rec); !bytes.Equal(got, want) {
			t.Fatalf("record %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

// slogAuditLine is the audit line as slog writes it (the oracle).
func slogAuditLine(end time.Time, rec *connRecord) []byte {
	attrs := []slog.Attr{
		slog.Time("start", rec.start),
		slog.String("client", rec.client.String()),
		slog.String("listener", rec.listener),
		slog.String("name", rec.name),
	}
	if rec.port != 0 {
		attrs = append(attrs, slog.Int("port", int(rec.port)))
	}
	if rec.target.IsValid() {
		attrs = append(attrs, slog.String("target", rec.target.String()))
	}
	attrs = append(attrs,
		slog.String("decision", rec.decision),
		slog.String("reason", rec.reason),
		slog.Int64("bytes_up", rec.up),
		slog.Int64("bytes_down", rec.down),
		slog.Float64("duration_s", end.Sub(rec.start).Seconds()),
		slog.Uint64("config_generation", rec.configGen),
	)
	if rec.relayErr != nil {
		attrs = append(attrs, slog.String("error", rec.relayErr.Error()))
	}
	var buf bytes.Buffer
	fixTime := func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.TimeKey {
			return slog.Time(slog.TimeKey, end)
		}
		return a
	}
	slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: fixTime})).
		LogAttrs(context.Background(), slog.LevelInfo, "connection", attrs...)
	return buf.Bytes()
}

func BenchmarkAuditLine(b *testing.B) {
	start := time.Now()
	rec := &connRecord{start: start, listener: "https", client: netip.MustParseAddrPort("127.0.0.1:53776"), name: "localhost",
		target: netip.MustParseAddrPort("127.0.0.2:29443"), decision: "allow", reason: "allowlist", up: 816, down: 3000, configGen: 1}
	end := start.Add(1160217)
	b.Run("append", func(b *testing.B) {
		var line [512]byte
		for b.Loop() {
			appendAuditLine(line[:0], end, rec)
		}
	})
	b.Run("slog", func(b *testing.B) {
		for b.Loop() {
			slogAuditLine(end, rec)
		}
	})
}
