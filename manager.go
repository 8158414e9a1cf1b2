package sessions

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/ginkit/sessions/internal/core"
)

// Manager holds a session configuration and its storage driver, and hands
// out the Gin middleware (Handler). It is safe for concurrent use; make one
// per application (or per distinct cookie) and Close it on shutdown.
//
// Every store operation goes through the Manager's engine
// (internal/core): the middleware, the gin-contrib adapter built on it
// (package contrib), the per-user operations and the move between
// backends all follow the same rules.
type Manager struct {
	cfg       Config
	eng       *core.Engine
	ownDriver bool      // the Manager opened cfg.DSN and closes it
	ownPrev   bool      // likewise cfg.PreviousDSN
	tr        transport // where the token travels: cookie or header
	backend   string    // the backend's name for events and logs
	watch     watcher
}

// NewManager validates cfg, fills its zero fields with defaults, and opens
// its driver (cfg.Driver if set, else Open(cfg.DSN)). An invalid
// configuration or a DSN that does not open is an error; the DSN's
// password never appears in it. So is a previous backend that is the
// current store under another name (file:///x and file:///x/): NewManager
// looks, by writing a marker record into the current backend and reading
// it through the previous one, then deleting it; a move would otherwise
// delete every session of that store.
func NewManager(cfg Config) (*Manager, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if isMemoryDSN(cfg.PreviousDSN) {
		return nil, fmt.Errorf("sessions: previous backend %s: an in-process store cannot be moved from", RedactDSN(cfg.PreviousDSN))
	}
	m := &Manager{cfg: cfg, tr: newTransport(cfg), backend: backendName(cfg.DSN, cfg.Driver)}
	drv, prev := cfg.Driver, cfg.PreviousDriver
	if drv == nil {
		d, err := Open(cfg.DSN)
		if err != nil {
			return nil, err
		}
		drv, m.ownDriver = d, true
	}
	if prev == nil && cfg.PreviousDSN != "" {
		d, err := Open(cfg.PreviousDSN)
		if err != nil {
			m.closeOwned(ownedOnly(drv, m.ownDriver), nil)
			return nil, core.Wrap("previous backend", err)
		}
		prev, m.ownPrev = d, true
	}
	if prev != nil {
		if err := checkPreviousIsAnotherStore(cfg, drv, prev); err != nil {
			m.closeOwned(ownedOnly(drv, m.ownDriver), ownedOnly(prev, m.ownPrev))
			return nil, err
		}
	}
	eng, err := core.New(core.Options{
		Driver:           drv,
		Previous:         prev,
		Lifetime:         cfg.Lifetime,
		AbsoluteLifetime: cfg.AbsoluteLifetime,
		TouchInterval:    cfg.TouchInterval,
		ExpireOnClose:    cfg.ExpireOnClose,
		MaxKeys:          cfg.MaxKeys,
		MaxRecordSize:    cfg.MaxRecordSize,
		MaxPerUser:       cfg.MaxSessionsPerUser,
		EncryptionKeys:   cfg.EncryptionKeys,
		Logger:           cfg.Logger,
		Hook:             m.hook(),
	})
	if err != nil {
		m.closeOwned(ownedOnly(drv, m.ownDriver), ownedOnly(prev, m.ownPrev))
		return nil, err
	}
	m.eng = eng
	cfg.Logger.Info("sessions: manager opened", "backend", m.backend, "dsn", RedactDSN(cfg.DSN), "previous", RedactDSN(cfg.PreviousDSN))
	return m, nil
}

// sameStoreTimeout bounds NewManager's same-store check: three round
// trips to the backends.
const sameStoreTimeout = 10 * time.Second

// checkPreviousIsAnotherStore refuses a previous backend that is the
// current store under another name (file:///x and file:///x/, redis://h
// and redis://h:6379/0, one Driver value twice): a move from it finds
// every session already in the current backend and deletes it, which
// empties the store. It looks rather than compare DSNs (core.SameStore):
// a marker record lives in the current backend for the check's few round
// trips, and is deleted. A check that cannot finish is an error too: the
// Manager does not start on a guess.
func checkPreviousIsAnotherStore(cfg Config, drv, prev Driver) error {
	ctx, cancel := context.WithTimeout(context.Background(), sameStoreTimeout)
	defer cancel()
	same, err := core.SameStore(ctx, prev, drv)
	prevName := backendLabel(cfg.PreviousDSN, cfg.PreviousDriver != nil, "Config.PreviousDriver", "SESSION_DSN_PREVIOUS, Config.PreviousDSN")
	curName := backendLabel(cfg.DSN, cfg.Driver != nil, "Config.Driver", "SESSION_DSN, Config.DSN")
	if err != nil {
		return core.Wrap("previous backend", fmt.Errorf("%s: check that it is another store than the current backend %s: %w", prevName, curName, err))
	}
	if same {
		return fmt.Errorf("sessions: previous backend %s and current backend %s name one store: "+
			"moving from it would delete every session; point SESSION_DSN_PREVIOUS at the old store, or unset it", prevName, curName)
	}
	return nil
}

// backendLabel names a backend in an error: the Driver field when the
// application gave one, else its DSN, redacted, and where it comes from.
func backendLabel(dsn string, given bool, field, from string) string {
	if given {
		return field
	}
	return RedactDSN(dsn) + " (" + from + ")"
}

// ownedOnly returns d if the Manager opened it (owned), else nil: a
// Driver the application handed over is the application's to close.
func ownedOnly(d Driver, owned bool) Driver {
	if owned {
		return d
	}
	return nil
}

// hook returns the engine's Hook for the Config's Observer, or nil.
func (m *Manager) hook() core.Hook {
	if m.cfg.Observer == nil {
		return nil
	}
	return hook{obs: m.cfg.Observer, backend: m.backend}
}

// isMemoryDSN reports whether dsn names the in-process memory driver.
func isMemoryDSN(dsn string) bool {
	u, err := url.Parse(dsn)
	return err == nil && strings.EqualFold(u.Scheme, "memory")
}

// Config returns the Manager's configuration with its defaults filled in.
func (m *Manager) Config() Config { return m.cfg }

// Engine is plumbing for this module's own packages, not for
// applications: it hands m's session engine to package contrib (the
// gin-contrib adapter), which reaches it through core.EngineOf, so both
// follow the same rules and share sessions. Only code inside this module
// can make the Access it asks for; with any other Access, or on a nil
// Manager, it returns nil.
func (m *Manager) Engine(a core.Access) *core.Engine {
	if m == nil || !a.Valid() {
		return nil
	}
	return m.eng
}

// Backend returns the name of the Manager's backend, as Observer events
// and logs give it: the DSN's scheme ("memory", "redis", …), or for a
// Config.Driver the name of its package.
func (m *Manager) Backend() string { return m.backend }

// Close ends every Watch context (their cause is ErrManagerClosed) and
// waits for the watcher to stop, then closes the drivers the Manager
// opened (a Config.Driver or Config.PreviousDriver given by the
// application is left open). Requests still in flight may fail.
func (m *Manager) Close() error {
	m.watch.close()
	var prev Driver
	if m.ownPrev {
		prev = m.eng.Previous()
	}
	var drv Driver
	if m.ownDriver {
		drv = m.eng.Driver()
	}
	err := m.closeOwned(drv, prev)
	m.cfg.Logger.Info("sessions: manager closed", "backend", m.backend, "error", err)
	return err
}

// closeOwned closes drv and prev, those that are not nil, within ten
// seconds.
func (m *Manager) closeOwned(drv, prev Driver) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var errs []error
	for _, d := range []Driver{drv, prev} {
		if d != nil {
			if err := d.Close(ctx); err != nil {
				errs = append(errs, fmt.Errorf("sessions: close: %w", err))
			}
		}
	}
	return errors.Join(errs...)
}
