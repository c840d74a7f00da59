package server

import (
	"testing"

	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/config"
)

// media.udp_segmentation reaches the SFU: on by default, off when set so
// (sfu.Config.NoSegmentation); the other settings go through as they are.
func TestSFUConfigFollowsMedia(t *testing.T) {
	m := config.Default().Media
	if c := SFUConfig(m, zerolog.Nop()); c.NoSegmentation || c.BWEMax != m.BWEMax || c.TCPAddr != "" {
		t.Fatalf("defaults: %+v", c)
	}
	m.UDPSegmentation, m.TCPPort = false, 4443
	if c := SFUConfig(m, zerolog.Nop()); !c.NoSegmentation || c.TCPAddr != "127.0.0.1:4443" {
		t.Fatalf("udp_segmentation = false, tcp_port = 4443: %+v", c)
	}
}
