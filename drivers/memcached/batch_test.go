package memcached

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/ginkit/sessions/internal/testserver"
	"github.com/ginkit/sessions/sessionstest"
)

// holdLanes makes d's single-key gets wait for release once they have
// started, so a test can fill every lane and queue Loads behind them; it
// counts the multi-key gets and the keys each asked for.
type holdLanes struct {
	entered chan struct{}
	release chan struct{}

	mu      sync.Mutex
	batches [][]string
}

func holdGets(d *Driver) *holdLanes {
	h := &holdLanes{entered: make(chan struct{}, 100), release: make(chan struct{})}
	one, many := d.gets.one, d.gets.many
	d.gets.one = func(key string) (*memcache.Item, error) {
		h.entered <- struct{}{}
		<-h.release
		return one(key)
	}
	d.gets.many = func(keys []string) (map[string]*memcache.Item, error) {
		h.mu.Lock()
		h.batches = append(h.batches, append([]string(nil), keys...))
		h.mu.Unlock()
		return many(keys)
	}
	return h
}

// fill starts getLanes Loads of key, which take every lane and wait, and
// returns their results once released.
func (h *holdLanes) fill(t *testing.T, d *Driver, key string) <-chan error {
	t.Helper()
	errs := make(chan error, getLanes)
	for range getLanes {
		go func() {
			_, _, _, err := d.Load(ctx, key)
			errs <- err
		}()
	}
	for range getLanes {
		<-h.entered
	}
	return errs
}

// heldOK fails the test unless every Load that held a lane (fill) worked.
func heldOK(t *testing.T, held <-chan error) {
	t.Helper()
	for range getLanes {
		if err := <-held; err != nil {
			t.Errorf("a Load that held a lane: %v", err)
		}
	}
}

// waitQueued returns once n gets wait for a lane, and fails the test if
// they never do (Loads that did not queue behind full lanes).
func waitQueued(t *testing.T, d *Driver, n int) {
	t.Helper()
	for start := time.Now(); ; time.Sleep(time.Millisecond) {
		d.gets.mu.Lock()
		queued := len(d.gets.waiting)
		d.gets.mu.Unlock()
		if queued >= n {
			return
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("%d of %d Loads queued for a lane", queued, n)
		}
	}
}

type loadResult struct {
	rec []byte
	ver uint64
	err error
}

// TestLoadsCoalesce: Loads that arrive while every lane is busy go out as
// one multi-key gets when a lane frees up, and each gets its own record
// and version, from a real memcached; two Loads of one key in a batch get
// equal values that do not share memory.
func TestLoadsCoalesce(t *testing.T) {
	t.Parallel()
	addr, _ := testserver.StartMemcached(t)
	d := openDSN(t, "memcached://"+addr)
	const n = 40
	keys := make([]string, n)
	vers := make([]uint64, n)
	for i := range keys {
		keys[i] = sessionstest.Key(t)
		if saved, err := d.Save(ctx, keys[i], []byte(fmt.Sprintf("record %d", i)), 0, time.Hour); err != nil || !saved {
			t.Fatalf("Save %d = %v, %v", i, saved, err)
		}
		_, ver, _, err := d.Load(ctx, keys[i])
		if err != nil || ver == 0 {
			t.Fatalf("Load %d = v%d, %v", i, ver, err)
		}
		vers[i] = ver
	}
	missing := sessionstest.Key(t)

	h := holdGets(d)
	held := h.fill(t, d, keys[0])

	// Every key once, key 1 a second time, and a key never stored.
	queue := []int{1}
	for i := range keys {
		queue = append(queue, i)
	}
	results := make([]loadResult, len(queue)+1)
	var wg sync.WaitGroup
	for j, i := range queue {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &results[j]
			r.rec, r.ver, _, r.err = d.Load(ctx, keys[i])
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		r := &results[len(queue)]
		r.rec, r.ver, _, r.err = d.Load(ctx, missing)
	}()
	waitQueued(t, d, len(queue)+1)
	close(h.release)
	wg.Wait()
	heldOK(t, held)

	for j, i := range queue {
		r := results[j]
		if want := fmt.Sprintf("record %d", i); r.err != nil || string(r.rec) != want || r.ver != vers[i] {
			t.Errorf("Load of key %d in the batch = %q v%d, %v; want %q v%d", i, r.rec, r.ver, r.err, want, vers[i])
		}
	}
	if r := results[len(queue)]; r.err != nil || r.rec != nil {
		t.Errorf("Load of a missing key in the batch = %q, %v; want absent", r.rec, r.err)
	}
	if a, b := results[0].rec, results[2].rec; len(a) > 0 && len(b) > 0 && &a[0] == &b[0] {
		t.Error("two Loads of one key in a batch share the record's memory")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.batches) != 1 || len(h.batches[0]) != len(queue)+1 {
		sizes := make([]string, len(h.batches))
		for i, b := range h.batches {
			sizes[i] = fmt.Sprint(len(b))
		}
		t.Fatalf("multi-key gets of %s keys; want one of %d", strings.Join(sizes, ", "), len(queue)+1)
	}
}

// TestLoadBatchFails: when memcached is gone, every Load queued in a batch
// gets the error, in the driver's wording, and none waits for ever.
func TestLoadBatchFails(t *testing.T) {
	t.Parallel()
	addr, proc := testserver.StartMemcached(t)
	d := openDSN(t, "memcached://"+addr+"?timeout=200ms")
	key := sessionstest.Key(t)
	if saved, err := d.Save(ctx, key, []byte("r"), 0, time.Hour); err != nil || !saved {
		t.Fatalf("Save = %v, %v", saved, err)
	}
	h := holdGets(d)
	held := h.fill(t, d, key)
	const queued = 10
	errs := make(chan error, queued)
	for range queued {
		go func() {
			_, _, _, err := d.Load(ctx, key)
			errs <- err
		}()
	}
	waitQueued(t, d, queued)
	proc.Stop()
	close(h.release)
	for i := range getLanes + queued {
		var err error
		if i < getLanes {
			err = <-held
		} else {
			err = <-errs
		}
		if err == nil || !strings.HasPrefix(err.Error(), "memcached: load:") {
			t.Errorf("Load %d with memcached stopped = %v; want a load error", i, err)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.batches) != 1 {
		t.Errorf("%d multi-key gets; want the queued Loads in one", len(h.batches))
	}
}

// TestLoadBatchPanicLosesNoLane: if the client panics during a batch (a
// failure no real server produces on demand, hence the stand-in beside
// TestLoadBatchFails), the Loads waiting on that batch fail instead of
// hanging, and the lane is passed on: later Loads still work.
func TestLoadBatchPanicLosesNoLane(t *testing.T) {
	t.Parallel()
	addr, _ := testserver.StartMemcached(t)
	d := openDSN(t, "memcached://"+addr)
	key := sessionstest.Key(t)
	if saved, err := d.Save(ctx, key, []byte("r"), 0, time.Hour); err != nil || !saved {
		t.Fatalf("Save = %v, %v", saved, err)
	}
	h := holdGets(d)
	many := d.gets.many
	d.gets.many = func([]string) (map[string]*memcache.Item, error) { panic("client bug") }
	held := h.fill(t, d, key)
	const queued = 5
	errs := make(chan error, queued)
	for range queued {
		go func() {
			defer func() {
				if r := recover(); r != nil {
					errs <- fmt.Errorf("panicked: %v", r) // the goroutine that ran the batch
				}
			}()
			_, _, _, err := d.Load(ctx, key)
			errs <- err
		}()
	}
	waitQueued(t, d, queued)
	close(h.release)
	heldOK(t, held)
	panicked := 0
	for range queued {
		err := <-errs
		switch {
		case err != nil && strings.HasPrefix(err.Error(), "panicked:"):
			panicked++
		case err == nil || !strings.Contains(err.Error(), "without an answer"):
			t.Errorf("a Load of the batch that panicked = %v; want an error", err)
		}
	}
	if panicked != 1 {
		t.Errorf("%d Loads panicked; want the one that ran the batch", panicked)
	}
	d.gets.many = many
	workingAgain(t, d, key)
}

// TestLoadBatchOneServerFails: with two servers, a batch is fetched per
// server, so when one server is down only the Loads of its keys fail: a
// key the healthy server does not hold is a miss (its visitor gets a new
// session), not the other server's error.
func TestLoadBatchOneServerFails(t *testing.T) {
	t.Parallel()
	addrA, _ := testserver.StartMemcached(t)
	addrB, procB := testserver.StartMemcached(t)
	d := openDSN(t, "memcached://"+addrA+","+addrB+"?timeout=200ms")
	storedA, missingA, storedB := keyOn(t, d, addrA), keyOn(t, d, addrA), keyOn(t, d, addrB)
	for _, key := range []string{storedA, storedB} {
		if saved, err := d.Save(ctx, key, []byte("r"), 0, time.Hour); err != nil || !saved {
			t.Fatalf("Save = %v, %v", saved, err)
		}
	}

	h := holdGets(d)
	held := h.fill(t, d, storedA)
	queue := []string{storedA, missingA, storedB, missingA}
	results := make([]loadResult, len(queue))
	var wg sync.WaitGroup
	for i, key := range queue {
		wg.Go(func() {
			rec, ver, _, err := d.Load(ctx, key)
			results[i] = loadResult{rec, ver, err}
		})
	}
	waitQueued(t, d, len(queue))
	procB.Stop()
	close(h.release)
	wg.Wait()
	heldOK(t, held)
	for i, key := range queue {
		r := results[i]
		switch key {
		case storedA:
			if r.err != nil || string(r.rec) != "r" || r.ver == 0 {
				t.Errorf("Load of a stored key on the healthy server = %q v%d, %v; want the record", r.rec, r.ver, r.err)
			}
		case missingA:
			if r.err != nil || r.rec != nil {
				t.Errorf("Load of a missing key on the healthy server = %q, %v; want a miss", r.rec, r.err)
			}
		case storedB:
			if r.err == nil || !strings.HasPrefix(r.err.Error(), "memcached: load:") {
				t.Errorf("Load of a key on the stopped server = %q, %v; want a load error", r.rec, r.err)
			}
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.batches) != 2 {
		t.Errorf("%d multi-key gets; want one per server", len(h.batches))
	}
}

// keyOn returns a new session key that d keeps on the server at addr.
func keyOn(t *testing.T, d *Driver, addr string) string {
	t.Helper()
	a, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	for range 1000 {
		key := sessionstest.Key(t)
		mkey, err := d.itemKey(key)
		if err != nil {
			t.Fatal(err)
		}
		if srv := d.gets.server(mkey); srv != nil && srv.String() == a.String() {
			return key
		}
	}
	t.Fatalf("no key of 1000 maps to %s", addr)
	return ""
}

// TestLoadBatchPanicOnOtherServer: with two servers, a batch's fetches
// for all but the leading Load's server run on goroutines of their own.
// If the client panics in one (a stand-in, as in
// TestLoadBatchPanicLosesNoLane), the process survives: the panic reaches
// the leading Load's caller if it was that Load's fetch, and otherwise
// fails that server's Loads; the other server's Loads get their records
// and the lane is passed on.
func TestLoadBatchPanicOnOtherServer(t *testing.T) {
	t.Parallel()
	addrA, _ := testserver.StartMemcached(t)
	addrB, _ := testserver.StartMemcached(t)
	d := openDSN(t, "memcached://"+addrA+","+addrB)
	keyA, keyB := keyOn(t, d, addrA), keyOn(t, d, addrB)
	for _, key := range []string{keyA, keyB} {
		if saved, err := d.Save(ctx, key, []byte("r"), 0, time.Hour); err != nil || !saved {
			t.Fatalf("Save = %v, %v", saved, err)
		}
	}
	h := holdGets(d)
	many := d.gets.many
	mkeyB, _ := d.itemKey(keyB)
	d.gets.many = func(keys []string) (map[string]*memcache.Item, error) {
		if keys[0] == mkeyB {
			panic("client bug")
		}
		return many(keys)
	}
	held := h.fill(t, d, keyA)
	queue := []string{keyA, keyB}
	results := make([]loadResult, len(queue))
	var wg sync.WaitGroup
	for i, key := range queue {
		wg.Go(func() {
			defer func() {
				if r := recover(); r != nil {
					results[i].err = fmt.Errorf("panicked: %v", r) // the Load that led the batch
				}
			}()
			rec, ver, _, err := d.Load(ctx, key)
			results[i] = loadResult{rec, ver, err}
		})
	}
	waitQueued(t, d, len(queue))
	close(h.release)
	wg.Wait()
	heldOK(t, held)
	if r := results[0]; r.err != nil || string(r.rec) != "r" {
		t.Errorf("Load on the server whose fetch worked = %q, %v; want the record", r.rec, r.err)
	}
	if r := results[1]; r.err == nil || !strings.Contains(r.err.Error(), "without an answer") && !strings.HasPrefix(r.err.Error(), "panicked:") {
		t.Errorf("Load on the server whose fetch panicked = %q, %v; want an error", r.rec, r.err)
	}
	d.gets.many = many
	workingAgain(t, d, keyB)
}

// workingAgain checks, after a batch panicked and the real client is back,
// that d loads key's record "r" and that no lane stayed busy.
func workingAgain(t *testing.T, d *Driver, key string) {
	t.Helper()
	if rec, _, _, err := d.Load(ctx, key); err != nil || string(rec) != "r" {
		t.Errorf("Load after the panic = %q, %v; want the record", rec, err)
	}
	d.gets.mu.Lock()
	defer d.gets.mu.Unlock()
	if d.gets.busy != 0 {
		t.Errorf("%d lanes still busy after every Load returned", d.gets.busy)
	}
}
