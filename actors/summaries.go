package actors

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/senim-kz/senim/document"
	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/domain/iin"
	"github.com/senim-kz/senim/persistence/eventlog"
	"github.com/senim-kz/senim/transport/protocol"
)

// The list queries (my_acts, attorney_acts, register, completed) read the
// log's indexes and summarise each act. Replaying every act of a busy
// notary on every page would make a query's cost grow with the register,
// so summaries are cached by stream and head sequence: an act replays only
// when it changed, and one query replays at most maxReplaysPerQuery.

// maxReplaysPerQuery bounds the replays one list query may do; past it
// the answer is partial and the next query continues. A variable for tests.
var maxReplaysPerQuery = 500

const (
	// DefaultSummaryCacheSize is the number of summaries a cache keeps.
	DefaultSummaryCacheSize = 50000
	maxPerPage              = 100
	defaultPerPage          = 20
	maxQueryLen             = 200
)

// SummaryCache keeps the summaries of acts at a head sequence, shared by
// the sessions. It is safe for concurrent use.
type SummaryCache struct {
	mu      sync.Mutex
	max     int
	entries map[string]cachedSummary
}

// cachedSummary is one act's summary, unmasked and with its phone: each
// list takes out what its reader may see.
type cachedSummary struct {
	seq          uint64
	sum          protocol.ActSummary
	attorneyName string
	dateAt       time.Time
}

// NewSummaryCache makes a cache of at most max summaries.
func NewSummaryCache(max int) *SummaryCache {
	return &SummaryCache{max: max, entries: map[string]cachedSummary{}}
}

func (c *SummaryCache) get(stream string, seq uint64) (cachedSummary, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[stream]
	return e, ok && e.seq == seq
}

func (c *SummaryCache) put(stream string, e cachedSummary) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[stream]; !ok && len(c.entries) >= c.max {
		for k := range c.entries { // any one: a miss only costs a replay
			delete(c.entries, k)
			break
		}
	}
	c.entries[stream] = e
}

func summarise(a *act.State, seq uint64) cachedSummary {
	sum := protocol.ActSummary{
		Act: a.ID, Phase: string(a.Phase), PrincipalIIN: a.Principal.IIN, Principal: a.Principal.Name,
		Phone: a.Principal.Phone, AttorneyIIN: a.Attorney.IIN, Notary: a.Notary.ID, DocumentCode: a.DocumentCode,
		CreatedAt: a.CreatedAt, ActionType: a.ActionType,
	}
	when := a.CreatedAt
	if !a.SignedAt.IsZero() {
		t := a.SignedAt
		sum.SignedAt, when = &t, t
	}
	sum.Date = document.Date(when)
	if c := a.Current(); c != nil {
		sum.RegistryNumber, sum.Amount = c.Draft.RegistryNumber, int64(c.Draft.Total())
	}
	name := a.Attorney.Name
	if name == "" && a.Consent != nil {
		name = a.Consent.SignerName
	}
	return cachedSummary{seq: seq, sum: sum, attorneyName: name, dateAt: when}
}

// listFilter is a checked ListQuery.
type listFilter struct {
	q              string
	status         string
	from, to       time.Time // to is exclusive
	page, per      int
	hasFrom, hasTo bool
}

var statusPattern = regexp.MustCompile(`^[a-z_]{1,32}$`)

// parseList checks a list query's body; every refusal is bad_query.
func parseList(q protocol.ListQuery) (listFilter, error) {
	f := listFilter{q: strings.ToLower(strings.TrimSpace(q.Q)), status: q.Status, page: q.Page, per: q.PerPage}
	switch {
	case len(q.Q) > maxQueryLen:
		return f, fmt.Errorf("q is longer than %d bytes", maxQueryLen)
	case q.Status != "" && !statusPattern.MatchString(q.Status):
		return f, fmt.Errorf("status %q is not a phase", q.Status)
	case q.Page < 0:
		return f, fmt.Errorf("page counts from 1")
	case q.PerPage < 0 || q.PerPage > maxPerPage:
		return f, fmt.Errorf("per_page is 1 to %d", maxPerPage)
	}
	if f.page == 0 {
		f.page = 1
	}
	if f.per == 0 {
		f.per = defaultPerPage
	}
	if q.From != "" {
		t, err := document.ParseDay(q.From)
		if err != nil {
			return f, fmt.Errorf("from %q is not yyyy-mm-dd", q.From)
		}
		f.from, f.hasFrom = t, true
	}
	if q.To != "" {
		t, err := document.ParseDay(q.To)
		if err != nil {
			return f, fmt.Errorf("to %q is not yyyy-mm-dd", q.To)
		}
		f.to, f.hasTo = t.AddDate(0, 0, 1), true
	}
	if f.hasFrom && f.hasTo && !f.from.Before(f.to) {
		return f, fmt.Errorf("from is after to")
	}
	return f, nil
}

func (f listFilter) keep(e cachedSummary) bool {
	s := e.sum
	if f.status != "" && s.Phase != f.status {
		return false
	}
	if f.hasFrom && e.dateAt.Before(f.from) || f.hasTo && !e.dateAt.Before(f.to) {
		return false
	}
	if f.q == "" {
		return true
	}
	for _, v := range []string{s.Principal, e.attorneyName, s.PrincipalIIN, s.AttorneyIIN, s.DocumentCode, s.RegistryNumber} {
		if v != "" && strings.Contains(strings.ToLower(v), f.q) {
			return true
		}
	}
	// A code typed without its dashes still finds it.
	if c := strings.ReplaceAll(f.q, "-", ""); c != "" && strings.Contains(strings.ToLower(strings.ReplaceAll(s.DocumentCode, "-", "")), c) {
		return true
	}
	return false
}

// listActs answers a list query: the index's acts, summarised, filtered,
// newest first, one page of them shaped for the reader.
func listActs(log *eventlog.Log, cache *SummaryCache, me act.Actor, name string, f listFilter) (protocol.ActList, error) {
	var index, value string
	switch {
	case name == "my_acts" && me.Role == act.RoleClient:
		index, value = "principal", me.IIN
	case name == "attorney_acts" && me.Role == act.RoleAttorney:
		index, value = "attorney", me.IIN
	case (name == "register" || name == "completed") && me.Role == act.RoleNotary:
		// The notary's own acts, not every notary's.
		index, value = "notary", me.ID
	default:
		return protocol.ActList{}, &act.Error{Code: act.CodeForbidden, Message: fmt.Sprintf("%s is not for a %s", name, me.Role)}
	}
	streams, err := log.Lookup(index, value)
	if err != nil {
		return protocol.ActList{}, err
	}
	out := protocol.ActList{Acts: []protocol.ActSummary{}}
	var all []cachedSummary
	replays := 0
	for _, st := range streams {
		seq, _, err := log.Head(st)
		var e cachedSummary
		hit := false
		if err == nil {
			e, hit = cache.get(st, seq)
		}
		if !hit {
			if replays >= maxReplaysPerQuery {
				out.Partial = true
				continue
			}
			replays++
			a, err := ReplayStream(log, st)
			if code, _ := loadFailure(err); code == CodeChainBroken || code == CodeStorageCorrupt {
				// A damaged act stays in the list, marked, and the others are served.
				all = append(all, cachedSummary{sum: protocol.ActSummary{Act: strings.TrimPrefix(st, "act/"), Phase: code}})
				continue
			}
			if err != nil {
				return protocol.ActList{}, err
			}
			e = summarise(&a, seq)
			cache.put(st, e)
		}
		switch name {
		case "completed":
			if e.sum.Phase != string(act.PhaseSigned) {
				continue // the electronic register: signed acts
			}
		case "attorney_acts":
			// An attorney sees the powers granted and the consents asked
			// of them, not drafts.
			if e.sum.Phase != string(act.PhaseSigned) && e.sum.Phase != string(act.PhaseAwaitingConsent) && e.sum.Phase != CodeChainBroken && e.sum.Phase != CodeStorageCorrupt {
				continue
			}
		}
		if !f.keep(e) {
			continue
		}
		all = append(all, e)
	}
	sort.SliceStable(all, func(i, j int) bool {
		if !all[i].sum.CreatedAt.Equal(all[j].sum.CreatedAt) {
			return all[i].sum.CreatedAt.After(all[j].sum.CreatedAt)
		}
		return all[i].sum.Act < all[j].sum.Act
	})
	out.Total = len(all)
	start := (f.page - 1) * f.per
	for i := start; i < len(all) && i < start+f.per; i++ {
		s := all[i].sum
		s.Status = s.Phase
		if name != "register" {
			s.Phone = "" // only the notary's register shows it, for feedback
		}
		if name == "completed" {
			// The electronic register names the parties without their IINs.
			s.PrincipalIIN, s.AttorneyIIN = iin.IIN(s.PrincipalIIN).Masked(), iin.IIN(s.AttorneyIIN).Masked()
		}
		out.Acts = append(out.Acts, s)
	}
	return out, nil
}
