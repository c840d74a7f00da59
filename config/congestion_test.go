package config

import "testing"

// The keys of congestion control in calls: good values load from the
// environment, and a floor over the resume point, a floor under audio's
// rate, or a first estimate past the cap are refused.
func TestCallCongestionKeys(t *testing.T) {
	c, err := Load("", []string{"SENIM_MEDIA_VIDEO_PAUSE_BELOW=120000", "SENIM_MEDIA_VIDEO_RESUME_ABOVE=250000", "SENIM_MEDIA_BWE_INITIAL=800000"})
	if err != nil || c.Media.VideoPauseBelow != 120_000 || c.Media.VideoResumeAbove != 250_000 || c.Media.BWEInitial != 800_000 {
		t.Fatalf("%+v %v", c.Media, err)
	}
	for _, env := range [][]string{
		{"SENIM_MEDIA_VIDEO_PAUSE_BELOW=300000", "SENIM_MEDIA_VIDEO_RESUME_ABOVE=200000"}, // no hysteresis
		{"SENIM_MEDIA_VIDEO_PAUSE_BELOW=1000"},                                            // under audio alone
		{"SENIM_MEDIA_BWE_INITIAL=30000000"},                                              // past bwe_max
		{"SENIM_MEDIA_BWE_MAX=100000"},                                                    // no room for video
	} {
		if _, err := Load("", env); err == nil {
			t.Errorf("%v: want an error", env)
		}
	}
}
