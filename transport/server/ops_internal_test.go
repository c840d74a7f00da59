package server

import (
	"crypto/tls"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"

	"github.com/senim-kz/senim/accounts"
)

// Dashboard sessions expire, and past the cap the oldest goes: sign-ins
// cannot grow the store without bound.
func TestOpsSessionsExpireAndAreCapped(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	s := newOpsSessions(time.Hour, 3)
	var ids []string
	for i := 0; i < 4; i++ {
		ids = append(ids, s.open(accounts.Operator{Login: fmt.Sprint("op", i)}, t0.Add(time.Duration(i)*time.Minute)))
	}
	if len(s.byID) != 3 {
		t.Fatalf("%d sessions kept, cap 3", len(s.byID))
	}
	if _, ok := s.get(ids[0], t0.Add(5*time.Minute)); ok {
		t.Fatal("the oldest session survived the cap")
	}
	if v, ok := s.get(ids[3], t0.Add(5*time.Minute)); !ok || v.login != "op3" {
		t.Fatalf("the newest: %+v %v", v, ok)
	}
	if _, ok := s.get(ids[3], t0.Add(3*time.Minute+time.Hour)); ok {
		t.Fatal("a session outlived its ttl")
	}
	if _, ok := s.get("", t0); ok {
		t.Fatal("an empty cookie opened a session")
	}
	if ids[1] == ids[2] || len(ids[1]) != 43 {
		t.Fatalf("ids %q %q", ids[1], ids[2])
	}
	for k := range s.byID {
		if k == ids[1] || k == ids[2] {
			t.Fatal("the store keeps cookie values, not their hashes")
		}
	}
}

func histFamily(counts []uint64, bounds []float64) *dto.MetricFamily {
	var total uint64
	var buckets []*dto.Bucket
	for i, c := range counts {
		total += c
		buckets = append(buckets, &dto.Bucket{UpperBound: proto.Float64(bounds[i]), CumulativeCount: proto.Uint64(total)})
	}
	return &dto.MetricFamily{Metric: []*dto.Metric{{Histogram: &dto.Histogram{SampleCount: proto.Uint64(total), Bucket: buckets}}}}
}

// The dashboard's percentiles are over the last second's observations
// only, interpolated inside a bucket as histogram_quantile does.
func TestOpsQuantilesOfTheLastSecond(t *testing.T) {
	bounds := []float64{0.001, 0.002, 0.004, 0.008}
	prev := histFamily([]uint64{1000, 0, 0, 0}, bounds) // an old burst of fast commands
	cur := histFamily([]uint64{1000, 0, 100, 0}, bounds)
	p50, p99 := quantiles(cur, prev)
	// The 100 new ones all fell in (2ms, 4ms]: p50 at its middle.
	if math.Abs(p50-3) > 1e-9 || math.Abs(p99-3.98) > 1e-9 {
		t.Fatalf("p50 %v p99 %v", p50, p99)
	}
	if p50, p99 := quantiles(prev, prev); p50 != 0 || p99 != 0 {
		t.Fatalf("nothing new: %v %v", p50, p99)
	}
}

// Under TLS the cookie is Secure too; it is always HttpOnly, SameSite=Strict
// and scoped to /ops.
func TestOpsCookieFlags(t *testing.T) {
	s := &Server{}
	for _, tlsOn := range []bool{false, true} {
		r := httptest.NewRequest("GET", "/ops", nil)
		if tlsOn {
			r.TLS = &tls.ConnectionState{}
		}
		c := s.opsCookie(r, "v", 60)
		if c.Secure != tlsOn || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/ops" {
			t.Fatalf("tls=%v: %+v", tlsOn, c)
		}
	}
}

// A sign-in posted by another site's page is told apart from our own.
func TestOpsSameOrigin(t *testing.T) {
	for _, c := range []struct {
		site, origin string
		want         bool
	}{
		{"same-origin", "null", true},
		{"cross-site", "", false},
		{"same-site", "", false},
		{"", "http://senim.test:8080", true},
		{"", "https://evil.example", false},
		{"", "null", false},
		{"", "", true},
	} {
		r := httptest.NewRequest("POST", "http://senim.test:8080/ops/login", nil)
		if c.site != "" {
			r.Header.Set("Sec-Fetch-Site", c.site)
		}
		if c.origin != "" {
			r.Header.Set("Origin", c.origin)
		}
		if got := sameOrigin(r); got != c.want {
			t.Errorf("Sec-Fetch-Site %q Origin %q: %v", c.site, c.origin, got)
		}
	}
}

// The ring keeps the last 15 minutes, without the tables, and a stream
// that does not read never holds the sampler up.
func TestOpsRingKeepsFifteenMinutes(t *testing.T) {
	p := &opsSampler{streams: map[chan []byte]struct{}{}}
	stuck := make(chan []byte) // nobody reads it
	p.streams[stuck] = struct{}{}
	for i := 0; i < opsHistory+100; i++ {
		p.push(OpsSnapshot{T: int64(i), Calls: []OpsCall{{ActID: "a"}}})
	}
	if len(p.ring) != opsHistory || p.ring[0].T != 100 || p.ring[opsHistory-1].T != opsHistory+99 {
		t.Fatalf("ring of %d from %d to %d", len(p.ring), p.ring[0].T, p.ring[len(p.ring)-1].T)
	}
	if p.ring[0].Calls != nil || len(p.latest().Calls) != 1 {
		t.Fatal("the tables belong to the latest snapshot only")
	}
}

// The dashboard's append chart carries the p99 of the WAL's syncs over the
// last second beside the append's: the disk's part of it.
func TestOpsSnapshotHasTheWALSyncs(t *testing.T) {
	bounds := []float64{0.001, 0.002, 0.004, 0.008}
	prev := map[string]*dto.MetricFamily{"senim_store_wal_sync_seconds": histFamily([]uint64{500, 0, 0, 0}, bounds)}
	cur := map[string]*dto.MetricFamily{"senim_store_wal_sync_seconds": histFamily([]uint64{500, 0, 100, 0}, bounds)}
	var s OpsSnapshot
	(&opsSampler{}).fill(&s, cur, prev, 1)
	if math.Abs(s.WALSyncP99-3.98) > 1e-9 || s.AppendP99 != 0 {
		t.Fatalf("WAL sync p99 %v ms, append p99 %v ms", s.WALSyncP99, s.AppendP99)
	}
}
