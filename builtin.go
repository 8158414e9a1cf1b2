package sessions

import (
	"net/url"

	"github.com/ginkit/sessions/drivers/file"
	"github.com/ginkit/sessions/drivers/memcached"
	"github.com/ginkit/sessions/drivers/memory"
	"github.com/ginkit/sessions/drivers/redis"
)

// The built-in drivers are registered out of the box, so switching
// SESSION_DSN between them never needs a code change or an extra import.
//
//	memory://     drivers/memory     in-process, bounded, for one instance and tests
//	file://       drivers/file       one file per session, safe across processes on one host
//	redis://      drivers/redis      Redis standalone, Cluster or Sentinel (rueidis)
//	rediss://     drivers/redis      the same over TLS
//	memcached://  drivers/memcached  one or more memcached servers (gomemcache)
func init() {
	Register("memory", adapt(memory.Open))
	Register("file", adapt(file.Open))
	Register("redis", adapt(redis.Open))
	Register("rediss", adapt(redis.Open))
	Register("memcached", adapt(memcached.Open))
}

// adapt turns a driver package's typed Open into a Factory, taking care
// that a failed open yields a nil Driver rather than a typed nil.
func adapt[D Driver](open func(*url.URL) (D, error)) Factory {
	return func(u *url.URL) (Driver, error) {
		d, err := open(u)
		if err != nil {
			return nil, err
		}
		return d, nil
	}
}
