package server_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/client"
	"github.com/senim-kz/senim/config"
	"github.com/senim-kz/senim/domain/iin"
	"github.com/senim-kz/senim/internal/testserver"
	"github.com/senim-kz/senim/pki/devca"
	"github.com/senim-kz/senim/registry"
	"github.com/senim-kz/senim/transport/server"
)

// BenchmarkSessionRoundTrip is an active session's round trip through the
// gateway and its session actor: a query (my_acts, an empty list) and its
// answer, one client after another (serial) and 32 at once (parallel).
// It is the figure the idle sessions' memory savings must not slow.
func BenchmarkSessionRoundTrip(b *testing.B) {
	dir := b.TempDir()
	srv := testserver.Run(b, testserver.Config(dir, func(c *config.Config) {
		c.Limits.RatePerSecond, c.Limits.Burst = 1e9, 1e9 // the rate limit is not what is measured
	}), zerolog.Nop(), server.Options{})
	p, err := srv.DevCA.IssuePair(devca.Request{IIN: iin.IIN(clientIIN), Surname: "Сейтқали", Name: "Әйгерім"}, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	if err := registry.Add(server.RegistryPath(dir), registry.Person{IIN: clientIIN, Surname: "Сейтқали", Name: "Әйгерім"}); err != nil {
		b.Fatal(err)
	}
	keys := client.KeySigner{p.Auth, p.Sign}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	open := func() *client.Client {
		c, err := client.Dial(ctx, "ws://"+srv.Addr()+"/ws", client.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.SignInEDS(ctx, "client", keys); err != nil {
			b.Fatal(err)
		}
		return c
	}
	query := func(c *client.Client) {
		var out json.RawMessage
		if err := c.Query(ctx, "my_acts", "", nil, &out); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("serial", func(b *testing.B) {
		c := open()
		defer c.CloseNow()
		for b.Loop() {
			query(c)
		}
	})
	b.Run("parallel32", func(b *testing.B) {
		clients := make([]*client.Client, 32)
		for i := range clients {
			clients[i] = open()
			defer clients[i].CloseNow()
		}
		var next atomic.Int64
		b.SetParallelism(16) // 2 cores × 16 = 32 goroutines
		b.RunParallel(func(pb *testing.PB) {
			c := clients[int(next.Add(1)-1)%len(clients)]
			for pb.Next() {
				query(c)
			}
		})
	})
}
