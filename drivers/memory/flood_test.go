package memory

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Flood figures. A flood of new sessions is what a crawler that never
// returns its cookie, or an attacker, produces: every request a new key.
const (
	floodMaxEntries = 10_000
	floodWriters    = 8
	floodPerWriter  = 25_000 // 200,000 saves in all
	floodRecord     = 256    // bytes per record, a typical small session

	// floodPerEntry is the documented memory ceiling per held record
	// beyond the record itself. The live data is about 130 bytes (the key,
	// the map slot and entry); the rest is what the heap holds beyond the
	// live data after a flood: eviction frees records at random, which
	// leaves the allocator's spans partly used (HeapInuse is measured, as
	// the process sees it, not HeapAlloc). Measured: 390 bytes per
	// 256-byte entry before any eviction, 800–960 after 200,000 saves,
	// about 1,000 after 4,000,000.
	floodPerEntry = 768

	// floodSlack covers the shards, the maps' spare capacity and the
	// test's own bookkeeping.
	floodSlack = 4 << 20
)

// TestFloodOfNewSessions saves 200,000 new keys from 8 goroutines into a
// store bounded to 10,000 records, and checks, while it runs and after:
//
//   - Stats().Entries never exceeds the bound (sampled every 200µs by a
//     monitor goroutine, and at the end);
//   - every save beyond the bound evicted exactly one record (Entries +
//     Evictions = saves), none of them counted as expired;
//   - the heap the store keeps (HeapInuse after a GC, minus the baseline)
//     stays under the documented ceiling of MaxEntries × (record + 768
//     bytes) + 4 MiB, and the heap sampled during the flood (garbage
//     included) under twice that; an unbounded store would need about
//     68 MiB for these 200,000 records, and grow with every new one;
//   - Close gives the memory back.
func TestFloodOfNewSessions(t *testing.T) {
	const saves = floodWriters * floodPerWriter
	ceiling := uint64(floodMaxEntries*(floodRecord+floodPerEntry) + floodSlack)

	base, baseAlloc := heapStats()
	d := New(Options{MaxEntries: floodMaxEntries, SweepInterval: -1})
	closed := false
	defer func() {
		if !closed {
			d.Close(bg)
		}
	}()

	var (
		stop       = make(chan struct{})
		monitor    sync.WaitGroup
		maxSeen    atomic.Int64
		peakHeap   atomic.Uint64
		samples    atomic.Int64
		deadline   = time.Now().Add(60 * time.Second) // the whole flood, even under -race, takes a few seconds
		failedSave atomic.Value
	)
	monitor.Add(2)
	go func() { // the bound, sampled often
		defer monitor.Done()
		tick := time.NewTicker(200 * time.Microsecond)
		defer tick.Stop()
		for {
			n := int64(d.Stats().Entries)
			if n > maxSeen.Load() {
				maxSeen.Store(n)
			}
			samples.Add(1)
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	go func() { // the heap, sampled less often (ReadMemStats stops the world)
		defer monitor.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peakHeap.Load() {
				peakHeap.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()

	start := time.Now()
	var writers sync.WaitGroup
	var done atomic.Int64
	for w := range floodWriters {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for i := range floodPerWriter {
				if i%1024 == 0 && time.Now().After(deadline) {
					return
				}
				rec := make([]byte, floodRecord) // a fresh record each time: real memory, as the core gives
				rec[0] = byte(i)
				ok, err := d.Save(bg, fmt.Sprintf("w%d-%06d", w, i), rec, 0, time.Hour)
				if err != nil || !ok {
					failedSave.CompareAndSwap(nil, fmt.Sprintf("Save %d/%d = %v, %v", w, i, ok, err))
					return
				}
				done.Add(1)
			}
		}()
	}
	writers.Wait()
	took := time.Since(start)
	close(stop)
	monitor.Wait()

	if msg := failedSave.Load(); msg != nil {
		t.Fatal(msg)
	}
	if n := done.Load(); n != saves {
		t.Fatalf("only %d of %d saves ran within the time bound", n, saves)
	}
	st := d.Stats()
	if st.Entries > floodMaxEntries || maxSeen.Load() > floodMaxEntries {
		t.Fatalf("the store held %d entries (at most %d seen while flooding); bound %d", st.Entries, maxSeen.Load(), floodMaxEntries)
	}
	if got := uint64(st.Entries) + st.Evictions; got != saves || st.Expired != 0 {
		t.Fatalf("Entries %d + Evictions %d = %d, Expired %d; want %d saves accounted for, none expired", st.Entries, st.Evictions, got, st.Expired, saves)
	}
	if st.Entries < floodMaxEntries*9/10 {
		t.Fatalf("the full store holds only %d of %d entries: eviction removed more than it had to", st.Entries, floodMaxEntries)
	}

	held, heldAlloc := heapStats()
	retained, live := sub(held, base), sub(heldAlloc, baseAlloc)
	peak := sub(peakHeap.Load(), base)
	t.Logf("flood: %d saves from %d goroutines in %v (%.0f/s); bound %d: %d entries held (max seen %d in %d samples), %d evictions, %d expired",
		saves, floodWriters, took.Round(time.Millisecond), float64(saves)/took.Seconds(), floodMaxEntries, st.Entries, maxSeen.Load(), samples.Load(), st.Evictions, st.Expired)
	t.Logf("heap: %.1f MiB in use for the store after GC (%.0f bytes per entry; live objects %.1f MiB, %.0f bytes per entry), peak %.1f MiB during the flood; ceiling %.1f MiB in use, %.1f MiB peak; unbounded, %d records of %d bytes would need about %.0f MiB",
		mib(retained), float64(retained)/float64(st.Entries), mib(live), float64(live)/float64(st.Entries), mib(peak), mib(ceiling), mib(2*ceiling),
		saves, floodRecord, mib(uint64(saves)*uint64(floodRecord+100)))
	if retained > ceiling {
		t.Errorf("the store retains %.1f MiB; ceiling %.1f MiB", mib(retained), mib(ceiling))
	}
	if peak > 2*ceiling {
		t.Errorf("the heap peaked %.1f MiB above the baseline during the flood; ceiling %.1f MiB", mib(peak), mib(2*ceiling))
	}

	if err := d.Close(bg); err != nil {
		t.Fatal(err)
	}
	closed = true
	inuse, _ := heapStats()
	after := sub(inuse, base)
	t.Logf("after Close: %.1f MiB above the baseline", mib(after))
	if after > ceiling/4 {
		t.Errorf("after Close the heap is still %.1f MiB above the baseline", mib(after))
	}
	runtime.KeepAlive(d)
}

// heapStats returns HeapInuse (the heap's spans in use, what the process
// holds) and HeapAlloc (its live objects) after a collection.
func heapStats() (inuse, alloc uint64) {
	runtime.GC()
	runtime.GC() // the second cycle frees what the first one's finalizers released
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse, ms.HeapAlloc
}

func sub(a, b uint64) uint64 {
	if a < b {
		return 0
	}
	return a - b
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }
