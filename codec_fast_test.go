package sessions

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// JSONCodec's fast paths (codec_fast.go) must give exactly encoding/json's
// results. The table below lists edge cases with whether the fast path is
// expected to take them; FuzzJSONCodecFast compares codec and
// encoding/json on arbitrary input, its seed corpus in
// testdata/fuzz/FuzzJSONCodecFast/ holding the same edge cases.

// jsonFastCases are inputs to Unmarshal; fast lists the targets the fast
// path must handle itself ("" for none: all fall back).
var jsonFastCases = []struct {
	in   string
	fast string
}{
	{`0`, "ints uints floats"},
	{`-0`, "ints floats"}, // -0 is no uint: json errors
	{`01`, ""},            // invalid JSON
	{`-01`, ""},
	{`-`, ""},
	{``, ""},
	{`1e2`, "floats"}, // an int target errors in json
	{`1.5`, "floats"},
	{`1.`, ""},
	{`.5`, ""},
	{`1E+2`, "floats"},
	{`1e-400`, "floats"}, // underflows to 0 without error
	{`1e400`, ""},        // overflow: json errors
	{`-1e400`, ""},
	{`3.4028236e38`, "float64"}, // above MaxFloat32: float32 errors
	{`127`, "ints uints floats"},
	{`128`, "uints floats int16 int32 int64 int"},
	{`255`, "uints floats int16 int32 int64 int"},
	{`256`, "uint16 uint32 uint64 uint floats int16 int32 int64 int"},
	{`-128`, "ints floats"},
	{`-129`, "int16 int32 int64 int floats"},
	{`9223372036854775807`, "int64 int uint64 uint floats"},
	{`9223372036854775808`, "uint64 uint floats"},
	{`-9223372036854775808`, "int64 int floats"},
	{`-9223372036854775809`, "floats"},
	{`18446744073709551615`, "uint64 uint floats"},
	{`18446744073709551616`, "floats"},
	{`0x10`, ""},
	{`1_0`, ""},
	{`+1`, ""},
	{`Inf`, ""},
	{`NaN`, ""},
	{` 1`, ""},
	{`1 `, ""},
	{"1\n", ""},
	{`null`, ""},
	{`true`, "bool"},
	{`false`, "bool"},
	{`True`, ""},
	{`""`, "string"},
	{`"a"`, "string"},
	{`"Ada Lovelace"`, "string"},
	{`"héllo ✓"`, "string"},
	{`"a\"b"`, ""},
	{`"a\\b"`, ""},
	{`"\u0041"`, ""},
	{`"a"b"`, ""},
	{`"`, ""},
	{`"a`, ""},
	{"\"\xff\"", ""},         // json replaces invalid UTF-8 with U+FFFD
	{"\"\xed\xa0\x80\"", ""}, // a surrogate half: invalid UTF-8
	{"\"\xef\xbf\xbd\"", "string"},
	{"\"\t\"", ""}, // control characters are invalid JSON
	{"\"\x7f\"", "string"},
	{`"<"`, "string"},
	{"\"\u2028\"", "string"},
	{`"42"`, "string"}, // but no number
	{`[1]`, ""},
	{`{}`, ""},
}

// fastTargets are fresh, non-zero targets by name; the names are matched
// against jsonFastCases' fast field, where ints, uints and floats stand for
// every size.
func fastTargets() map[string]any {
	s, b := "init", true
	i, i8, i16, i32, i64 := 7, int8(7), int16(7), int32(7), int64(7)
	u, u8, u16, u32, u64 := uint(7), uint8(7), uint16(7), uint32(7), uint64(7)
	f32, f64 := float32(1.5), 1.5
	return map[string]any{
		"string": &s, "bool": &b,
		"int": &i, "int8": &i8, "int16": &i16, "int32": &i32, "int64": &i64,
		"uint": &u, "uint8": &u8, "uint16": &u16, "uint32": &u32, "uint64": &u64,
		"float32": &f32, "float64": &f64,
	}
}

func expectFast(fast, target string) bool {
	for _, w := range strings.Fields(fast) {
		switch {
		case w == target,
			w == "ints" && strings.HasPrefix(target, "int"),
			w == "uints" && strings.HasPrefix(target, "uint"),
			w == "floats" && strings.HasPrefix(target, "float"):
			return true
		}
	}
	return false
}

func TestJSONCodecFastUnmarshalTable(t *testing.T) {
	for _, tc := range jsonFastCases {
		for name := range fastTargets() {
			t.Run(strconv.Quote(tc.in)+"/"+name, func(t *testing.T) {
				data := []byte(tc.in)
				want := expectFast(tc.fast, name)
				// Whether the fast path takes it.
				probe := fastTargets()[name]
				assert.Equal(t, want, unmarshalFast(data, probe), "fast path taken")
				// And that the codec matches encoding/json either way.
				got, ref := fastTargets()[name], fastTargets()[name]
				errGot := JSONCodec{}.Unmarshal(data, got)
				errRef := json.Unmarshal(data, ref)
				assertSameResult(t, data, got, ref, errGot, errRef)
				if want {
					assert.NoError(t, errGot)
				}
			})
		}
	}
}

// assertSameResult compares two targets (pointers of the same type) and
// two errors; floats are compared by bits, so -0 differs from 0.
func assertSameResult(t *testing.T, data []byte, got, ref any, errGot, errRef error) {
	t.Helper()
	if (errGot == nil) != (errRef == nil) || (errGot != nil && errGot.Error() != errRef.Error()) {
		t.Fatalf("%q into %T: codec error %v, encoding/json error %v", data, got, errGot, errRef)
	}
	switch g := got.(type) {
	case *float64:
		if math.Float64bits(*g) != math.Float64bits(*ref.(*float64)) {
			t.Fatalf("%q into *float64: codec %v, encoding/json %v", data, *g, *ref.(*float64))
		}
	case *float32:
		if math.Float32bits(*g) != math.Float32bits(*ref.(*float32)) {
			t.Fatalf("%q into *float32: codec %v, encoding/json %v", data, *g, *ref.(*float32))
		}
	default:
		gv, _ := json.Marshal(got)
		rv, _ := json.Marshal(ref)
		if string(gv) != string(rv) {
			t.Fatalf("%q into %T: codec %s, encoding/json %s", data, got, gv, rv)
		}
		if dg, dr := deref(got), deref(ref); dg != dr {
			t.Fatalf("%q into %T: codec %#v, encoding/json %#v", data, got, dg, dr)
		}
	}
}

func deref(p any) any {
	switch p := p.(type) {
	case *string:
		return *p
	case *bool:
		return *p
	case *int:
		return *p
	case *int8:
		return *p
	case *int16:
		return *p
	case *int32:
		return *p
	case *int64:
		return *p
	case *uint:
		return *p
	case *uint8:
		return *p
	case *uint16:
		return *p
	case *uint32:
		return *p
	case *uint64:
		return *p
	case *fastRole:
		return *p
	case *fastCount:
		return *p
	}
	panic("deref: unexpected type")
}

// fastRole and fastCount are named types: the fast path must leave them
// to encoding/json, which honours their methods.
type fastRole string

func (r fastRole) MarshalJSON() ([]byte, error) { return json.Marshal("role:" + string(r)) }

type fastCount int

func (c *fastCount) UnmarshalJSON(b []byte) error {
	n, err := strconv.Atoi(string(b))
	*c = fastCount(n * 10)
	return err
}

// checkUnmarshal compares the codec with encoding/json on data for every
// fast-path target, nil pointers and named types included.
func checkUnmarshal(t *testing.T, data []byte) {
	t.Helper()
	got, ref := fastTargets(), fastTargets()
	for name := range got {
		errGot := JSONCodec{}.Unmarshal(data, got[name])
		errRef := json.Unmarshal(data, ref[name])
		assertSameResult(t, data, got[name], ref[name], errGot, errRef)
	}
	// Typed nil pointers: json reports InvalidUnmarshalError.
	for _, nilp := range []any{(*string)(nil), (*int)(nil), (*uint8)(nil), (*bool)(nil), (*float64)(nil)} {
		errGot := JSONCodec{}.Unmarshal(data, nilp)
		errRef := json.Unmarshal(data, nilp)
		if errGot == nil || errRef == nil || errGot.Error() != errRef.Error() {
			t.Fatalf("%q into %T(nil): codec error %v, encoding/json error %v", data, nilp, errGot, errRef)
		}
	}
	r1, r2 := fastRole("x"), fastRole("x")
	assertSameResult(t, data, &r1, &r2, JSONCodec{}.Unmarshal(data, &r1), json.Unmarshal(data, &r2))
	c1, c2 := fastCount(3), fastCount(3)
	assertSameResult(t, data, &c1, &c2, JSONCodec{}.Unmarshal(data, &c1), json.Unmarshal(data, &c2))
}

// checkMarshal compares the codec's bytes with json.Marshal's.
func checkMarshal(t *testing.T, v any) {
	t.Helper()
	got, errGot := JSONCodec{}.Marshal(v)
	ref, errRef := json.Marshal(v)
	if (errGot == nil) != (errRef == nil) || string(got) != string(ref) {
		t.Fatalf("Marshal(%T %#v): codec %q (%v), encoding/json %q (%v)", v, v, got, errGot, ref, errRef)
	}
}

func checkMarshalInts(t *testing.T, i int64, u uint64) {
	t.Helper()
	for _, v := range []any{
		int(i), int8(i), int16(i), int32(i), i,
		uint(u), uint8(u), uint16(u), uint32(u), u,
		uintptr(u), fastCount(i),
	} {
		checkMarshal(t, v)
	}
}

// printableOf maps data onto 0x20–0x7E so that the string fast path, and
// the bytes it must refuse ('"', '\\', '<', '>', '&'), are hit often.
func printableOf(data []byte) string {
	b := make([]byte, len(data))
	for i, c := range data {
		b[i] = 0x20 + c%0x5f
	}
	return string(b)
}

func TestJSONCodecFastMarshalTable(t *testing.T) {
	fast := []any{
		"", "a", "Ada Lovelace", " ~!#$%'()*+,-./09:;=?@AZ[]^_`az{|}",
		true, false,
		0, -1, math.MaxInt, math.MinInt,
		int8(math.MinInt8), int16(math.MaxInt16), int32(math.MinInt32), int64(math.MinInt64),
		uint(math.MaxUint), uint8(255), uint16(math.MaxUint16), uint32(math.MaxUint32), uint64(math.MaxUint64),
	}
	for _, v := range fast {
		b, ok := marshalFast(v)
		assert.True(t, ok, "%T %#v takes the fast path", v)
		ref, err := json.Marshal(v)
		require.NoError(t, err)
		assert.Equal(t, string(ref), string(b), "%T %#v", v)
		checkMarshal(t, v)
	}
	slow := []any{
		`a"b`, `a\b`, "<", ">", "&", "\x7f", "\t", "\x00", "\xff", "\u2028", "\u2029", "é",
		fastRole("admin"), fastCount(4), uintptr(1), 1.5, float32(2), nil,
		[]int{1}, map[string]int{"a": 1}, struct{ A int }{1}, new(int),
	}
	for _, v := range slow {
		_, ok := marshalFast(v)
		assert.False(t, ok, "%T %#v falls back", v)
		checkMarshal(t, v)
	}
	got, err := JSONCodec{}.Marshal(fastRole("admin"))
	require.NoError(t, err)
	assert.Equal(t, `"role:admin"`, string(got), "a named type's MarshalJSON is used")
}

func TestJSONCodecFastNamedTypes(t *testing.T) {
	var c fastCount = 1
	require.NoError(t, JSONCodec{}.Unmarshal([]byte("4"), &c))
	assert.Equal(t, fastCount(40), c, "a named type's UnmarshalJSON is used")
	var r fastRole
	require.NoError(t, JSONCodec{}.Unmarshal([]byte(`"admin"`), &r))
	assert.Equal(t, fastRole("admin"), r)
}

// TestJSONCodecFastNoAlias: the decoded string must not share memory with
// the input, which the caller may reuse.
func TestJSONCodecFastNoAlias(t *testing.T) {
	data := []byte(`"abc"`)
	var s string
	require.NoError(t, JSONCodec{}.Unmarshal(data, &s))
	data[1] = 'X'
	assert.Equal(t, "abc", s)
}

func FuzzJSONCodecFast(f *testing.F) {
	for _, tc := range jsonFastCases {
		f.Add([]byte(tc.in), int64(0), uint64(0))
	}
	f.Add([]byte("x"), int64(math.MinInt64), uint64(math.MaxUint64))
	f.Add([]byte("x"), int64(-129), uint64(256))
	f.Fuzz(func(t *testing.T, data []byte, i int64, u uint64) {
		checkUnmarshal(t, data)
		checkMarshal(t, string(data))
		checkMarshal(t, printableOf(data))
		checkMarshal(t, true)
		checkMarshal(t, false)
		checkMarshalInts(t, i, u)
		// Integers that decode, written back: Marshal must round-trip.
		if n, err := strconv.ParseInt(string(data), 10, 64); err == nil {
			checkMarshalInts(t, n, uint64(n))
		}
	})
}

type benchUser struct {
	Name string
	Age  int
}

// BenchmarkJSONCodec compares the codec (through the Codec interface, as
// the Manager calls it) with encoding/json for the values the fast path
// covers, and for a struct, which it does not. The values are boxed once, outside the loop, as Set receives
// them already boxed.
func BenchmarkJSONCodec(b *testing.B) {
	var c Codec = JSONCodec{}
	values := []struct {
		name string
		v    any
		data []byte
		into func() any
	}{
		{"int", any(123456), []byte("123456"), func() any { return new(int) }},
		{"string", any("Ada Lovelace"), []byte(`"Ada Lovelace"`), func() any { return new(string) }},
		// Not a fast-path type: the cost of the type switch on a miss.
		{"struct", any(benchUser{"Ada", 36}), []byte(`{"Name":"Ada","Age":36}`), func() any { return new(benchUser) }},
	}
	for _, tc := range values {
		b.Run("marshal/"+tc.name+"/codec", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Marshal(tc.v); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("marshal/"+tc.name+"/encoding_json", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := json.Marshal(tc.v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	for _, tc := range values {
		target := tc.into()
		b.Run("unmarshal/"+tc.name+"/codec", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := c.Unmarshal(tc.data, target); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("unmarshal/"+tc.name+"/encoding_json", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := json.Unmarshal(tc.data, target); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkJSONCodecFastMiss measures what the fast path adds before
// falling back to encoding/json: the type switch on a type it does not
// handle, and the checks that refuse an input it is not sure of.
func BenchmarkJSONCodecFastMiss(b *testing.B) {
	var v any = benchUser{"Ada", 36}
	b.Run("marshal/struct", func(b *testing.B) {
		for b.Loop() {
			if _, ok := marshalFast(v); ok {
				b.Fatal("fast path taken")
			}
		}
	})
	target := new(benchUser)
	data := []byte(`{"Name":"Ada","Age":36}`)
	b.Run("unmarshal/struct", func(b *testing.B) {
		for b.Loop() {
			if unmarshalFast(data, target) {
				b.Fatal("fast path taken")
			}
		}
	})
	n := new(int)
	data = []byte("1.5")
	b.Run("unmarshal/int_refused", func(b *testing.B) {
		for b.Loop() {
			if unmarshalFast(data, n) {
				b.Fatal("fast path taken")
			}
		}
	})
}
