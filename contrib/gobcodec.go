package contrib

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"reflect"

	"github.com/ginkit/sessions"
)

// GobCodec is a Codec that keeps Go types: it gob-encodes each value
// inside an interface wrapper, so the value decodes back with the dynamic
// type it was stored with. Set(c, "n", 42) then Get[any](c, "n") gives
// int 42, not JSON's float64; a stored struct comes back as that struct,
// not as a map.
//
// It is the codec of the gin-contrib/sessions adapter (NewStore),
// whose Get returns interface{} and so needs the type in the record, as
// gorilla/sessions' own stores do. Use it on a Manager too when the native
// middleware and the adapter share sessions.
//
// As with gorilla/sessions, a type stored behind an interface must be
// known to gob: the predeclared types (bool, numbers, string, []byte) and
// slices of them are; []interface{} is registered here (flash messages
// use it); anything else — your structs, time.Time, map[string]any — needs
// gob.Register(T{}) at start-up, in every process that reads or writes
// the sessions. A value of an unregistered type fails to encode with gob's
// error ("type not registered for interface"), and the request's save
// writes nothing.
//
// Gob's own rules apply: unexported struct fields are not stored, and
// pointers are flattened, so a *T stored comes back as whatever was
// registered (gob.Register(T{}) gives a T; gob.Register(&T{}) a *T).
//
// Unmarshal into a *T succeeds only when the stored dynamic type is
// assignable to T: a stored int reads as Get[int] or Get[any], not as
// Get[int64] or Get[string]. A nil value round-trips as nil, readable into
// any pointer, slice, map or interface type.
type GobCodec struct{}

// gobBox carries a value behind an interface, so gob writes its type name.
type gobBox struct{ V any }

func init() {
	// Flash messages are []interface{} in gorilla/sessions and in the
	// native AddFlash. gorilla registers the same type under the same
	// name, which gob allows.
	gob.Register([]interface{}{})
}

// Marshal gob-encodes v with its dynamic type.
func (GobCodec) Marshal(v any) (b []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			b, err = nil, fmt.Errorf("gob: encode %T: %v", v, p)
		}
	}()
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(&gobBox{V: v}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Unmarshal decodes data written by Marshal into the value v points to,
// which must be a non-nil pointer to a type the stored value is
// assignable to. It returns an error, never panics, on anything else.
func (GobCodec) Unmarshal(data []byte, v any) (err error) {
	dst := reflect.ValueOf(v)
	if dst.Kind() != reflect.Pointer || dst.IsNil() {
		return fmt.Errorf("gob: Unmarshal needs a non-nil pointer, not %T", v)
	}
	dst = dst.Elem()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("gob: decode: %v", p)
		}
	}()
	var box gobBox
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&box); err != nil {
		return err
	}
	if box.V == nil {
		switch dst.Kind() {
		case reflect.Interface, reflect.Pointer, reflect.Slice, reflect.Map:
			dst.SetZero()
			return nil
		}
		return fmt.Errorf("gob: the stored value is nil, which a %s cannot hold", dst.Type())
	}
	src := reflect.ValueOf(box.V)
	if !src.Type().AssignableTo(dst.Type()) {
		return &gobTypeError{stored: src.Type(), want: dst.Type()}
	}
	dst.Set(src)
	return nil
}

// gobTypeError reports a stored value of another type than the one asked.
type gobTypeError struct{ stored, want reflect.Type }

func (e *gobTypeError) Error() string {
	return fmt.Sprintf("gob: the stored value is a %s, not assignable to %s", e.stored, e.want)
}

var _ sessions.Codec = GobCodec{}
