package sessions

import "encoding/json"

// Codec encodes one session value at a time. The core stores each key's
// value as its own encoded bytes, so Get[T] decodes straight into T and a
// value of the wrong shape is reported as missing rather than misread, and
// so every driver, the in-process memory driver included, stores exactly
// the same bytes.
//
// Marshal must be deterministic enough that Unmarshal of its output into a
// value of the same type gives back an equal value. Unmarshal must return
// an error, never panic, on input it did not produce.
type Codec interface {
	Marshal(v any) ([]byte, error)
	Unmarshal(data []byte, v any) error
}

// JSONCodec is the default Codec: encoding/json. Structs, slices, maps,
// numbers, strings, booleans and time.Time round-trip; a number read as a
// string (or any kind mismatch) is an error, so Get[string] of a stored 42
// reports false. Unexported struct fields are not stored.
//
// The commonest session values take a fast path that skips encoding/json's
// reflection: Marshal of a string of plain printable ASCII, a bool or a
// basic integer type (not named types such as type Role string, which may
// have their own MarshalJSON), and Unmarshal into a *string, *bool, *float64,
// *float32 or pointer to a basic integer type of input with no whitespace,
// escapes or null. Its results are always exactly encoding/json's: the
// same bytes, the same stored value, an error exactly when encoding/json
// gives one. Any input the fast path is not sure of, and every other type,
// goes through encoding/json.
type JSONCodec struct{}

// Marshal encodes v as encoding/json does.
func (JSONCodec) Marshal(v any) ([]byte, error) {
	if b, ok := marshalFast(v); ok {
		return b, nil
	}
	return json.Marshal(v)
}

// Unmarshal decodes data into v as encoding/json does.
func (JSONCodec) Unmarshal(data []byte, v any) error {
	if unmarshalFast(data, v) {
		return nil
	}
	return json.Unmarshal(data, v)
}
