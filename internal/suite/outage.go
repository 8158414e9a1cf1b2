package suite

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Call is one request of an outage Stream and what the client held after
// it. Err is a transport error (no HTTP response at all).
type Call struct {
	Write      bool // a PUT of Key=Value; otherwise a GET of Key
	Key, Value string
	Held       string // the session ID the client held after the response

	Status int
	Body   string
	Cookie *http.Cookie // the session cookie the response set, or nil
	Err    error
	Start  time.Time
	Took   time.Duration
}

// OK reports whether the call got a 2xx answer.
func (c Call) OK() bool { return c.Err == nil && c.Status >= 200 && c.Status < 300 }

// End is when the answer arrived.
func (c Call) End() time.Time { return c.Start.Add(c.Took) }

// String is the answer: a transport error, or the status and body.
func (c Call) String() string {
	if c.Err != nil {
		return "transport error: " + c.Err.Error()
	}
	return fmt.Sprintf("%d %s", c.Status, strings.TrimSpace(c.Body))
}

// Stream is the outage recorder: a goroutine that, as a browser holding a
// session cookie would, writes a new key and reads it back, one request
// after another, and records every Call until halted.
type Stream struct {
	calls Log[Call]
	stop  chan struct{}
	done  chan struct{}
}

// StartStream starts a Stream that for i = 0, 1, … calls put("w%04d",
// "v%04d") and get of the same key, 5ms apart, until Halt, maxCalls
// calls or maxTime. put and get fill in the response and Held; the Stream
// fills in Write, Key and Value.
func StartStream(maxCalls int, maxTime time.Duration, put func(k, v string) Call, get func(k string) Call) *Stream {
	s := &Stream{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		end := time.Now().Add(maxTime)
		for i := 0; 2*i < maxCalls && time.Now().Before(end); i++ {
			select {
			case <-s.stop:
				return
			default:
			}
			k, v := fmt.Sprintf("w%04d", i), fmt.Sprintf("v%04d", i)
			w := put(k, v)
			w.Write, w.Key, w.Value = true, k, v
			s.calls.Add(w)
			r := get(k)
			r.Write, r.Key, r.Value = false, k, v
			s.calls.Add(r)
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return s
}

// Calls returns the calls so far.
func (s *Stream) Calls() []Call { return s.calls.All() }

// Count returns the number of calls so far that satisfy f.
func (s *Stream) Count(f func(Call) bool) int {
	n := 0
	for _, c := range s.Calls() {
		if f(c) {
			n++
		}
	}
	return n
}

// LastWritesOK reports whether the last n writes so far all succeeded
// and all began after since: the store serves again for good.
func (s *Stream) LastWritesOK(n int, since time.Time) bool {
	calls, seen := s.Calls(), 0
	for i := len(calls) - 1; i >= 0 && seen < n; i-- {
		if calls[i].Write {
			if !calls[i].OK() || !calls[i].Start.After(since) {
				return false
			}
			seen++
		}
	}
	return seen == n
}

// Halt stops the stream, waits for its goroutine, and returns every call
// it made. It may be called more than once.
func (s *Stream) Halt() []Call {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
	return s.Calls()
}
