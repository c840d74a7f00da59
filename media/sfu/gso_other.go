//go:build !linux

package sfu

import "github.com/pion/transport/v4"

// newGSONet: UDP segmentation offload is Linux's; elsewhere the ICE agent
// keeps its own network.
func newGSONet() (transport.Net, error) { return nil, nil }
