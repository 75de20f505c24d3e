package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

// gogc returns the collector's current target percentage.
func gogc() uint64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func TestTuneGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	tests := []struct {
		name      string
		threshold uint64
		want      uint64
	}{
		{"live-heap-under-threshold", 1 << 62, 7},
		{"live-heap-over-threshold", 0, 33},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stop := tuneGC(tt.threshold, 7, 33)
			// The target follows each collection, from a finalizer on
			// its own goroutine: a few collections let it run.
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
				runtime.GC()
				time.Sleep(time.Millisecond)
				if gogc() == tt.want {
					break
				}
			}
			for range 3 {
				runtime.GC()
				time.Sleep(time.Millisecond)
			}
			if got := gogc(); got != tt.want {
				t.Errorf("GOGC = %d after collections, want %d", got, tt.want)
			}
			stop()
			runtime.GC()
			time.Sleep(time.Millisecond)
			if got := gogc(); got != 33 {
				t.Errorf("GOGC = %d after stop, want 33", got)
			}
		})
	}
}
