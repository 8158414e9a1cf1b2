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
type JSONCodec struct{}

// Marshal encodes v with encoding/json.
func (JSONCodec) Marshal(v any) ([]byte, error) { return json.Marshal(v) }

// Unmarshal decodes data into v with encoding/json.
func (JSONCodec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }
