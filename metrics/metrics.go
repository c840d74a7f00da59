// Package metrics holds Senim's Prometheus collectors, registered on one
// registry that /metrics serves. Operators watch these; the load tool reads
// them too.
package metrics

import (
	"runtime"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Registry is where every Senim collector lives.
var Registry = prometheus.NewRegistry()

var (
	// Commands counts act commands by name and outcome code ("ok" on success).
	Commands = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "senim", Name: "commands_total", Help: "Act commands by name and outcome code (ok on success).",
	}, []string{"command", "code"})
	// AppendSeconds is the latency of a durable append to the event log.
	AppendSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "senim", Name: "eventlog_append_seconds", Help: "Durable (fsync'd) event-log appends.",
		Buckets: prometheus.ExponentialBuckets(0.0002, 2, 14),
	})
	// WALSyncSeconds is the latency of one sync (fdatasync) of the event
	// log's write-ahead log: the disk's part of a durable append.
	WALSyncSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "senim", Name: "store_wal_sync_seconds", Help: "Syncs (fdatasync) of the event log's write-ahead log; each makes a group of appends durable.",
		Buckets: prometheus.ExponentialBuckets(0.0002, 2, 14),
	})
	// Connections is the number of open websocket sessions.
	Connections = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "senim", Name: "ws_connections", Help: "Open websocket sessions.",
	})
	// Refused counts connections and messages turned away by a limit.
	Refused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "senim", Name: "refused_total", Help: "Connections and messages refused by a limit, by reason.",
	}, []string{"reason"})
	// Panics counts panics caught in actors. (Named
	// senim_actor_panics_total before the dashboard's metrics audit.)
	Panics = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "senim", Name: "panics_recovered_total", Help: "Panics caught in actors and recovered (each refused one message).",
	})
	// Queue is the number of calls waiting for a notary.
	Queue = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "senim", Name: "desk_waiting_calls", Help: "Calls waiting in the desk's queue.",
	})
	// BankCallbacks counts bank callbacks by outcome.
	BankCallbacks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "senim", Name: "bank_callbacks_total", Help: "Bank payment callbacks by outcome.",
	}, []string{"outcome"})

	// MediaRooms is the number of open call rooms.
	MediaRooms = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "senim", Name: "media_rooms", Help: "Open call rooms in the SFU.",
	})
	// MediaParticipants is the number of participants connected to rooms.
	MediaParticipants = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "senim", Name: "media_participants", Help: "Participants in the SFU's rooms.",
	})
	// MediaPackets and MediaBytes count RTP received from publishers and
	// forwarded (once per publisher packet, whatever the fan-out).
	MediaPackets = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "senim", Name: "media_forwarded_packets_total", Help: "RTP packets received from publishers and forwarded, by kind.",
	}, []string{"kind"})
	MediaBytes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "senim", Name: "media_forwarded_bytes_total", Help: "RTP payload bytes received from publishers and forwarded, by kind.",
	}, []string{"kind"})
	// MediaRTCP counts RTCP from participants: nack (lost packets asked
	// for), pli, fir, rr (receiver reports), sr (sender reports).
	MediaRTCP = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "senim", Name: "media_rtcp_total", Help: "RTCP received from participants, by type (nack counts packets).",
	}, []string{"type"})
	// MediaKeyframeRequests counts keyframe requests to publishers: sent,
	// or coalesced into one sent shortly before.
	MediaKeyframeRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "senim", Name: "media_keyframe_requests_total", Help: "Keyframe requests (PLI) to publishers: sent or coalesced by the throttle.",
	}, []string{"outcome"})
	// MediaBandwidthEstimate is each subscriber's downlink estimate (from
	// transport-wide congestion control feedback, or REMB), in bytes per
	// second as Prometheus names units (bits/s ÷ 8), observed every time
	// the SFU chooses what the subscriber gets.
	MediaBandwidthEstimate = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "senim", Name: "media_downlink_estimate_bytes_per_second", Help: "Subscribers' downlink bandwidth estimates (bytes/s), observed at each layer choice.",
		Buckets: []float64{50e3 / 8, 100e3 / 8, 200e3 / 8, 300e3 / 8, 500e3 / 8, 750e3 / 8, 1e6 / 8, 1.5e6 / 8, 2e6 / 8, 3e6 / 8, 5e6 / 8, 10e6 / 8},
	})
	// MediaLayerSwitches counts changes of what a subscriber gets of a
	// video track: up, down (a simulcast layer), pause, resume (video off
	// and on under congestion).
	MediaLayerSwitches = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "senim", Name: "media_layer_switches_total", Help: "Changes of the video layer a subscriber gets: up, down, pause, resume.",
	}, []string{"change"})
	// MediaVideoPaused is the number of subscribers whose incoming video is
	// paused because their connection is too weak for it.
	MediaVideoPaused = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "senim", Name: "media_video_paused", Help: "Subscribers whose video is paused under congestion (audio goes on).",
	})

	// StorageCorruption counts damage the event log's store met: "checksum"
	// (a block failed its checksum on a read; the read answered
	// storage_corrupt) and "fatal" (pebble gave up on an operation).
	StorageCorruption = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "senim", Name: "storage_corruption_total", Help: "Damage found in the event log's store, by kind (checksum, fatal).",
	}, []string{"kind"})
	// CommandSeconds is how long an act actor takes over one command, from
	// taking it out of its inbox to its answer (the durable append included).
	CommandSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "senim", Name: "command_duration_seconds", Help: "Time an act actor spends on one command, its durable append included.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
	})
	// AppendBatch is how many events each durable append of an act wrote
	// in its one synced batch.
	AppendBatch = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "senim", Name: "eventlog_batch_size", Help: "Events written by one durable event-log append of an act (one synced batch).",
		Buckets: []float64{1, 2, 3, 4, 6, 8, 12, 16, 32},
	})
	// Sessions is the signed-in websocket sessions by role (client,
	// attorney, notary); ws_connections counts them before sign-in too.
	Sessions = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "senim", Name: "sessions", Help: "Signed-in websocket sessions by role.",
	}, []string{"role"})
	// Notaries is the signed-in notaries by state: available (in operator
	// mode, free), busy (offered a call or in one), away (signed in, not in
	// operator mode). Sampled each second by the operators' dashboard.
	Notaries = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "senim", Name: "notaries", Help: "Signed-in notaries by state (available, busy, away), sampled each second.",
	}, []string{"state"})
	// LongestWait is how long the oldest waiting call has waited.
	LongestWait = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "senim", Name: "desk_longest_wait_seconds", Help: "How long the oldest call in the desk's queue has waited, sampled each second.",
	})
	// Acts is the acts in the event log by phase, as its phase index
	// counts them (sampled).
	Acts = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "senim", Name: "acts", Help: "Acts in the event log by phase, sampled from its phase index.",
	}, []string{"phase"})
	// TURNAllocations is the relays the embedded TURN server holds open.
	TURNAllocations = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "senim", Name: "turn_allocations", Help: "TURN relay allocations open.",
	})
	// TURNRelayedBytes counts the bytes relayed through TURN allocations,
	// both ways (what is dropped over a user's bitrate is not counted).
	TURNRelayedBytes = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "senim", Name: "turn_relayed_bytes_total", Help: "Bytes relayed through TURN UDP allocations, both ways.",
	})

	// Checkpoints counts the signed checkpoints of the event log written, by
	// outcome (ok, error).
	Checkpoints = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "senim", Name: "checkpoints_total", Help: "Signed event-log checkpoints written, by outcome (ok, error).",
	}, []string{"outcome"})
)

func init() {
	Registry.MustRegister(Commands, AppendSeconds, WALSyncSeconds, Connections, Refused, Panics, Queue, BankCallbacks,
		MediaRooms, MediaParticipants, MediaPackets, MediaBytes, MediaRTCP, MediaKeyframeRequests,
		MediaBandwidthEstimate, MediaLayerSwitches, MediaVideoPaused,
		StorageCorruption, Checkpoints,
		CommandSeconds, AppendBatch, Sessions, Notaries, LongestWait, Acts, TURNAllocations, TURNRelayedBytes,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
}

// Memory and load shedding (issue 10b).
var (
	// OverloadSheds counts work turned away past the server's capacity, by
	// what: "command" (a request answered overloaded), "connection" (a
	// websocket answered HTTP 503), "password" (a password check answered
	// busy).
	OverloadSheds = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "senim", Name: "overload_sheds_total", Help: "Work shed past capacity, by what (command, connection, password).",
	}, []string{"what"})
	// ActsLive is the number of act actors in memory; idle ones passivate.
	ActsLive = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "senim", Name: "acts_live", Help: "Act actors in memory (idle acts are passivated).",
	})
	// ActPassivations counts idle act actors stopped (rebuilt from the log
	// on their next message).
	ActPassivations = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "senim", Name: "act_passivations_total", Help: "Idle act actors stopped; the next message rebuilds them from the log.",
	})
)

// RuntimeProcs is the processors the Go runtime runs goroutines on
// (GOMAXPROCS), read when scraped; with runtime.procs = "adaptive" it
// follows the load, and RuntimeProcsChanges counts its moves.
var (
	RuntimeProcs = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "senim", Name: "runtime_procs", Help: "Processors the Go runtime runs goroutines on (GOMAXPROCS); follows the load with runtime.procs = adaptive.",
	}, func() float64 { return float64(runtime.GOMAXPROCS(0)) })
	RuntimeProcsChanges = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "senim", Name: "runtime_procs_changes_total", Help: "Changes of the processors the Go runtime runs goroutines on (runtime.procs = adaptive).",
	})
)

func init() {
	Registry.MustRegister(OverloadSheds, ActsLive, ActPassivations, RuntimeProcs, RuntimeProcsChanges)
}

// StoreStats is what the event log's store (pebble) reports, read when
// /metrics is scraped: what its flushes and compactions have written since
// it opened, and the shape of its levels.
type StoreStats struct {
	FlushedBytes   uint64 // written by flushes (memtables into tables)
	CompactedBytes uint64 // written by compactions (tables rewritten)
	Compactions    int64  // compactions run
	L0Sublevels    int32  // sublevels of level 0: a read looks in each
	ReadAmp        int    // tables a point read may look in (level 0's sublevels and the other levels)
	DiskBytes      uint64 // the store's files on disk
	CacheHits      int64  // block reads the store's block cache answered
	CacheMisses    int64  // block reads that went to a file (a new table's blocks, or blocks the cache let go)
	CacheBytes     int64  // what the block cache holds
	CacheCapacity  int64  // what it may hold (eventlog.block_cache_mb)
}

// storeCollector reports the store SetStore names.
type storeCollector struct {
	flushed, compacted, compactions, l0, readAmp, disk *prometheus.Desc
	cacheHits, cacheMisses, cacheBytes, cacheCapacity  *prometheus.Desc
	stats                                              atomic.Pointer[func() StoreStats]
}

var store = &storeCollector{
	flushed:       prometheus.NewDesc("senim_store_flushed_bytes_total", "Bytes the event log's store wrote in flushes since it opened.", nil, nil),
	compacted:     prometheus.NewDesc("senim_store_compacted_bytes_total", "Bytes the event log's store rewrote in compactions since it opened.", nil, nil),
	compactions:   prometheus.NewDesc("senim_store_compactions_total", "Compactions the event log's store ran since it opened.", nil, nil),
	l0:            prometheus.NewDesc("senim_store_l0_sublevels", "Sublevels of the event log's store's level 0 (each one more table a read looks in).", nil, nil),
	readAmp:       prometheus.NewDesc("senim_store_read_amplification", "Tables a point read in the event log's store may look in.", nil, nil),
	disk:          prometheus.NewDesc("senim_store_disk_bytes", "The event log's store's files on disk.", nil, nil),
	cacheHits:     prometheus.NewDesc("senim_store_block_cache_hits_total", "Block reads of the event log's store that its block cache answered.", nil, nil),
	cacheMisses:   prometheus.NewDesc("senim_store_block_cache_misses_total", "Block reads of the event log's store that went to a file.", nil, nil),
	cacheBytes:    prometheus.NewDesc("senim_store_block_cache_bytes", "What the event log's store's block cache holds.", nil, nil),
	cacheCapacity: prometheus.NewDesc("senim_store_block_cache_capacity_bytes", "What the event log's store's block cache may hold (eventlog.block_cache_mb).", nil, nil),
}

// SetStore names the store /metrics reports (the server's event log, when
// it opens).
func SetStore(stats func() StoreStats) { store.stats.Store(&stats) }

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.flushed, c.compacted, c.compactions, c.l0, c.readAmp, c.disk, c.cacheHits, c.cacheMisses, c.cacheBytes, c.cacheCapacity} {
		ch <- d
	}
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	f := c.stats.Load()
	if f == nil {
		return
	}
	s := (*f)()
	ch <- prometheus.MustNewConstMetric(c.flushed, prometheus.CounterValue, float64(s.FlushedBytes))
	ch <- prometheus.MustNewConstMetric(c.compacted, prometheus.CounterValue, float64(s.CompactedBytes))
	ch <- prometheus.MustNewConstMetric(c.compactions, prometheus.CounterValue, float64(s.Compactions))
	ch <- prometheus.MustNewConstMetric(c.l0, prometheus.GaugeValue, float64(s.L0Sublevels))
	ch <- prometheus.MustNewConstMetric(c.readAmp, prometheus.GaugeValue, float64(s.ReadAmp))
	ch <- prometheus.MustNewConstMetric(c.disk, prometheus.GaugeValue, float64(s.DiskBytes))
	ch <- prometheus.MustNewConstMetric(c.cacheHits, prometheus.CounterValue, float64(s.CacheHits))
	ch <- prometheus.MustNewConstMetric(c.cacheMisses, prometheus.CounterValue, float64(s.CacheMisses))
	ch <- prometheus.MustNewConstMetric(c.cacheBytes, prometheus.GaugeValue, float64(s.CacheBytes))
	ch <- prometheus.MustNewConstMetric(c.cacheCapacity, prometheus.GaugeValue, float64(s.CacheCapacity))
}

func init() { Registry.MustRegister(store) }

// CRLFile is one CRL file of the trust store, read when /metrics is
// scraped.
type CRLFile struct {
	Path     string
	Lists    []CRL
	Failures int  // versions of the file that could not be read or parsed
	Failing  bool // the file on disk is not the version in use
}

// CRL is one list of a CRL file.
type CRL struct {
	Issuer                 string
	ThisUpdate, NextUpdate time.Time // NextUpdate zero: the list has none
	Entries                int
	Ignored                bool // not used at all (an extension Senim does not process)
}

// crlCollector reports the CRL files SetCRLs names: when each list was
// issued and when it runs out (past it, every signature under that CA is
// refused with revocation_unknown), how many certificates it revokes, and
// whether the file on disk failed to load.
type crlCollector struct {
	thisUpdate, nextUpdate, entries, failures, failing, ignored *prometheus.Desc
	files                                                       atomic.Pointer[func() []CRLFile]
}

var crls = &crlCollector{
	thisUpdate: prometheus.NewDesc("senim_pki_crl_this_update_timestamp_seconds", "When each CRL in service was issued (its thisUpdate), by file and issuer.", []string{"file", "issuer"}, nil),
	nextUpdate: prometheus.NewDesc("senim_pki_crl_next_update_timestamp_seconds", "When each CRL in service runs out (its nextUpdate): past it, signatures under that issuer are refused with revocation_unknown.", []string{"file", "issuer"}, nil),
	entries:    prometheus.NewDesc("senim_pki_crl_entries", "Certificates each CRL in service revokes.", []string{"file", "issuer"}, nil),
	failures:   prometheus.NewDesc("senim_pki_crl_load_failures_total", "Versions of a CRL file that could not be read or parsed (the last good one stays in service).", []string{"file"}, nil),
	failing:    prometheus.NewDesc("senim_pki_crl_load_failing", "1 while the CRL file on disk could not be loaded and an older version is in service.", []string{"file"}, nil),
	ignored:    prometheus.NewDesc("senim_pki_crl_ignored_lists", "CRLs of a file that are not used at all: an indirect CRL, or one with a critical extension Senim does not process.", []string{"file"}, nil),
}

// SetCRLs names the CRL files /metrics reports (the server's trust store).
func SetCRLs(files func() []CRLFile) { crls.files.Store(&files) }

func (c *crlCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.thisUpdate, c.nextUpdate, c.entries, c.failures, c.failing, c.ignored} {
		ch <- d
	}
}

func (c *crlCollector) Collect(ch chan<- prometheus.Metric) {
	f := c.files.Load()
	if f == nil {
		return
	}
	for _, file := range (*f)() {
		failing := 0.0
		if file.Failing {
			failing = 1
		}
		ch <- prometheus.MustNewConstMetric(c.failures, prometheus.CounterValue, float64(file.Failures), file.Path)
		ch <- prometheus.MustNewConstMetric(c.failing, prometheus.GaugeValue, failing, file.Path)
		// One series per issuer: of a file's lists by one issuer that are
		// used, the one that runs out last (a list without a next update is
		// never current, and reads as 0: already run out).
		var order []string
		latest := map[string]CRL{}
		ignored := 0
		for _, l := range file.Lists {
			if l.Ignored {
				ignored++
				continue
			}
			prev, ok := latest[l.Issuer]
			if !ok {
				order = append(order, l.Issuer)
			}
			if !ok || l.NextUpdate.After(prev.NextUpdate) {
				latest[l.Issuer] = l
			}
		}
		ch <- prometheus.MustNewConstMetric(c.ignored, prometheus.GaugeValue, float64(ignored), file.Path)
		for _, issuer := range order {
			l := latest[issuer]
			next := 0.0
			if !l.NextUpdate.IsZero() {
				next = float64(l.NextUpdate.Unix())
			}
			ch <- prometheus.MustNewConstMetric(c.thisUpdate, prometheus.GaugeValue, float64(l.ThisUpdate.Unix()), file.Path, issuer)
			ch <- prometheus.MustNewConstMetric(c.nextUpdate, prometheus.GaugeValue, next, file.Path, issuer)
			ch <- prometheus.MustNewConstMetric(c.entries, prometheus.GaugeValue, float64(l.Entries), file.Path, issuer)
		}
	}
}

func init() { Registry.MustRegister(crls) }
