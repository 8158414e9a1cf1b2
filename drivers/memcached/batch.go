package memcached

import (
	"errors"
	"net"
	"sync"

	"github.com/bradfitz/gomemcache/memcache"
)

// getLanes is how many gets a Driver has on the wire at once. A Load that
// finds a lane free sends its get at once, alone; Loads that arrive while
// every lane is busy wait and go out together, as one multi-key gets per
// server, on the first lane that frees up. Under load this turns many
// small round trips into few larger ones: one write and one read system
// call on each side for a whole batch instead of one pair per request,
// which is most of what a get costs. With at most getLanes Loads at once
// nothing waits, so a quiet server sees no added latency.
const getLanes = 4

// getBatcher coalesces the gets of concurrent Loads (see getLanes).
type getBatcher struct {
	one  func(key string) (*memcache.Item, error)               // a get of one key
	many func(keys []string) (map[string]*memcache.Item, error) // gets of several
	// server returns the server that holds a key (the same net.Addr for
	// every key of one server), or is nil when there is one server or the
	// Driver cannot tell (New): a batch then goes out as one fetch, and a
	// failure is every missing key's error.
	server func(key string) net.Addr

	mu      sync.Mutex
	busy    int           // lanes in use
	waiting []*pendingGet // gets for the next lane that frees up
}

// pendingGet is one Load's get. done is closed when its result is in, or
// when it is handed a lane to run the waiting batch (lead).
type pendingGet struct {
	key  string
	it   *memcache.Item
	err  error
	done chan struct{}
	lead []*pendingGet // the batch this get must run, itself first
}

// get returns the item under key, memcache.ErrCacheMiss if there is none,
// or the error of the fetch it went out in.
func (b *getBatcher) get(key string) (*memcache.Item, error) {
	p := &pendingGet{key: key}
	b.mu.Lock()
	if b.busy < getLanes {
		b.busy++
		b.mu.Unlock()
		b.run([]*pendingGet{p})
		return p.it, p.err
	}
	p.done = make(chan struct{})
	b.waiting = append(b.waiting, p)
	b.mu.Unlock()
	<-p.done
	if p.lead != nil {
		b.run(p.lead)
	}
	return p.it, p.err
}

// run sends batch (whose first get belongs to the calling goroutine) as
// one fetch, hands each waiting get its result, and passes the lane on to
// the gets that queued meanwhile, or frees it.
func (b *getBatcher) run(batch []*pendingGet) {
	defer b.finish(batch)
	if len(batch) == 1 {
		batch[0].it, batch[0].err = b.one(batch[0].key)
	} else {
		b.fetchMany(batch)
	}
}

// errNoAnswer is the result of a get whose batch ended without one (the
// client panicked): the Loads waiting on it fail instead of hanging.
var errNoAnswer = errors.New("the get ended without an answer")

// finish hands every get of batch its result (errNoAnswer if it has
// none) and passes the lane on, even if the fetch panicked, so no Load
// waits for ever and no lane is lost.
func (b *getBatcher) finish(batch []*pendingGet) {
	for _, p := range batch {
		if p.it == nil && p.err == nil {
			p.err = errNoAnswer
		}
	}
	b.mu.Lock()
	next := b.waiting
	b.waiting = nil
	if len(next) == 0 {
		b.busy--
	}
	b.mu.Unlock()
	if len(next) > 0 {
		next[0].lead = next
		close(next[0].done)
	}
	for _, p := range batch[1:] {
		close(p.done)
	}
}

// fetchMany gets the keys of batch, in one multi-key gets per server.
// With several servers (b.server set) each server's keys are fetched on
// their own, at the same time, so a server that fails fails only the
// Loads of its keys: a key the answer does not hold is that fetch's
// error if it failed, else a miss. Without b.server one failure is the
// error of every key the answer does not hold, a miss on a healthy server
// included.
func (b *getBatcher) fetchMany(batch []*pendingGet) {
	groups := b.byServer(batch)
	var wg sync.WaitGroup
	defer wg.Wait() // even if the fetch below panics: finish must not race the others
	for _, g := range groups[1:] {
		wg.Go(func() {
			// A panic here has no caller to reach: its gets keep no
			// answer, and finish fails them with errNoAnswer.
			defer func() { _ = recover() }()
			b.fetch(g)
		})
	}
	b.fetch(groups[0])
}

// byServer splits batch by the server of each key, in the order the
// servers first appear, batch[0]'s first.
func (b *getBatcher) byServer(batch []*pendingGet) [][]*pendingGet {
	if b.server == nil {
		return [][]*pendingGet{batch}
	}
	var groups [][]*pendingGet
	index := make(map[net.Addr]int, 2)
	for _, p := range batch {
		srv := b.server(p.key)
		i, ok := index[srv]
		if !ok {
			i = len(groups)
			index[srv] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], p)
	}
	return groups
}

// fetch gets the keys of batch in one multi-key gets and hands each get
// its item, a miss, or the fetch's error.
func (b *getBatcher) fetch(batch []*pendingGet) {
	keys := make([]string, len(batch))
	for i, p := range batch {
		keys[i] = p.key
	}
	items, err := b.many(keys)
	handed := make(map[string]bool, len(batch))
	for _, p := range batch {
		it, ok := items[p.key]
		switch {
		case ok && handed[p.key]:
			// The same key twice in one batch (two requests of one
			// session at once): each Load gets a value of its own.
			dup := *it
			dup.Value = append([]byte(nil), it.Value...)
			p.it = &dup
		case ok:
			p.it = it
			handed[p.key] = true
		case err != nil:
			p.err = err
		default:
			p.err = memcache.ErrCacheMiss
		}
	}
}
