package core

import "time"

// State is one request's view of one stored session: what the engine
// reads and updates on the caller's behalf. The middleware's per-request
// session embeds one, and so does the gin-contrib adapter's per-session
// state. The caller owns it and serialises access to it.
type State struct {
	ID      string // the session ID the client holds or will get; "" if none
	Key     string // StoreKey(ID)
	Exists  bool   // a record under Key was loaded or saved by this request
	Version uint64 // version of Base, for the conditional save
	Fresh   bool   // Base and Version are as loaded, usable for a conditional save
	Created time.Time
	Expires time.Time // the store's idle deadline for Key
	Raw     []byte    // the record bytes as loaded (for the touch fallback)
	Base    Values
	Meta    Meta
	Delta   Delta // what the request changed, applied at the next save

	// NoCookie is set by the caller when a Set-Cookie header it adds now
	// would not reach the client (the headers are out): a save then does
	// not record a cookie as sent.
	NoCookie bool
}

// SetID points st at the session the client presented (a valid ID), with
// nothing loaded yet.
func (st *State) SetID(id string) { st.ID, st.Key = id, StoreKey(id) }

// Drop forgets the ID and the loaded record; the delta stands.
func (st *State) Drop() {
	st.ID, st.Key = "", ""
	st.Exists, st.Fresh = false, false
	st.Version = 0
	st.Raw, st.Base = nil, nil
	st.Meta = Meta{}
}

// StartNew gives st a fresh, not yet stored ID; the delta stands.
func (st *State) StartNew() {
	st.ID = NewID()
	st.Key = StoreKey(st.ID)
	st.Exists, st.Fresh = false, true
	st.Version = 0
	st.Created = time.Now()
	st.Raw, st.Base = nil, nil
	st.Meta = Meta{}
}

// Value returns the encoded value of key as the request sees it: its own
// change if it made one, else the stored value.
func (st *State) Value(key string) ([]byte, bool) {
	if v, ok, decided := st.Delta.Lookup(key); decided {
		return v, ok
	}
	return st.Base.Get(key)
}

// CurrentMeta returns the session's metadata as the request sees it: a
// pending user binding if the request made one, else the stored one.
func (st *State) CurrentMeta() Meta {
	if st.Delta.Meta != nil {
		return *st.Delta.Meta
	}
	return st.Meta
}

// Outcome is what a save or a touch did, for the caller to update its own
// state (the response's cookie, the request's load state) from.
type Outcome struct {
	// Written reports that a record was written (a save) or its deadline
	// moved (a touch).
	Written bool
	// CookieDue reports that the client's cookie must be (re)sent: the
	// session is new or has a new ID, or its idle deadline moved more than
	// TouchInterval past the cookie's expiry.
	CookieDue bool
	// Reloaded reports that the record was read again during the save (a
	// conflict, or a view that was not fresh); the State holds what was
	// read, or a new session if the record had vanished.
	Reloaded bool
	// ReloadFailed reports that such a read failed: the error returned
	// is a load error, and the State's view of the store is unknown.
	ReloadFailed bool
}
