package loadgen

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// serverSample is what the tool reads from the server's /metrics.
type serverSample struct {
	CPUSeconds float64
	RSSBytes   float64
	// Series holds every sample by its exposition name with labels, e.g.
	// senim_commands_total{code="ok",command="sign_act"}.
	Series map[string]float64
}

// scrape reads /metrics at addr within a few seconds.
func scrape(ctx context.Context, hc *http.Client, addr string) (serverSample, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return serverSample{}, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return serverSample{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return serverSample{}, fmt.Errorf("/metrics: HTTP %d", resp.StatusCode)
	}
	s, err := parseMetrics(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return serverSample{}, err
	}
	s.CPUSeconds, s.RSSBytes = s.Series["process_cpu_seconds_total"], s.Series["process_resident_memory_bytes"]
	return s, nil
}

// parseMetrics reads the Prometheus text format: one sample a line, the
// value after the last space outside the labels (client_golang writes no
// timestamps).
func parseMetrics(r io.Reader) (serverSample, error) {
	s := serverSample{Series: map[string]float64{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i <= 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		s.Series[line[:i]] = v
	}
	return s, sc.Err()
}

// signedOnServer is the server's count of signed acts.
func (s serverSample) signedOnServer() float64 {
	return s.Series[`senim_commands_total{code="ok",command="sign_act"}`]
}

// mediaBytes is the RTP payload the server's SFU forwarded, all kinds.
func (s serverSample) mediaBytes() float64 {
	var sum float64
	for k, v := range s.Series {
		if strings.HasPrefix(k, "senim_media_forwarded_bytes_total") {
			sum += v
		}
	}
	return sum
}

// appends is the server's count of durable event-log appends: each is an
// fsync (or a share of one, when pebble commits concurrent batches together).
func (s serverSample) appends() float64 {
	return s.Series["senim_eventlog_append_seconds_count"]
}

// bucketQuantile estimates the q-quantile (0 < q < 1) of the histogram
// name between two samples from its cumulative buckets: the upper bound,
// in milliseconds, of the first bucket that holds q of the observations
// made in between (0 when none were; +Inf reads as the largest finite bound).
func bucketQuantile(before, after serverSample, name string, q float64) float64 {
	type bucket struct{ le, n float64 }
	var bs []bucket
	prefix := name + `_bucket{le="`
	for k, v := range after.Series {
		if !strings.HasPrefix(k, prefix) || !strings.HasSuffix(k, `"}`) {
			continue
		}
		le, err := strconv.ParseFloat(k[len(prefix):len(k)-2], 64)
		if err != nil {
			continue
		}
		bs = append(bs, bucket{le, v - before.Series[k]})
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].le < bs[j].le })
	if len(bs) == 0 || bs[len(bs)-1].n <= 0 {
		return 0
	}
	total := bs[len(bs)-1].n
	for i, b := range bs {
		if b.n >= q*total {
			if math.IsInf(b.le, 1) && i > 0 {
				return bs[i-1].le * 1000
			}
			return b.le * 1000
		}
	}
	return 0
}
