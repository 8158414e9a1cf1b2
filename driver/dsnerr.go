package driver

import (
	"fmt"
	"slices"
	"strings"
)

// The wording of a DSN mistake, the same in every driver: the driver's
// name, the option, then what is wrong with it. Open (the registry) puts
// "sessions: open <redacted DSN>: " in front, so these texts name neither
// the DSN nor the word "open".

// OptionError returns the error of a DSN option a driver refuses:
//
//	<driver>: option "<name>": <problem>
//
// for example `redis: option "db": given 2 times`. It never quotes a
// value: use OptionValueError for that.
func OptionError(driverName, option, problem string) error {
	return fmt.Errorf("%s: option %q: %s", driverName, option, problem)
}

// OptionValueError returns the error of a DSN option whose value a driver
// refuses, quoting the value unless the option holds a secret (its name
// is one RedactDSN masks, such as sentinel_password), whose value shows
// as "xxxxx":
//
//	<driver>: option "<name>": "<value>": <want>
//
// for example `memcached: option "timeout": "soon": want a positive
// duration such as 500ms`.
func OptionValueError(driverName, option, value, want string) error {
	if secretName(option) {
		value = mask
	}
	return OptionError(driverName, option, fmt.Sprintf("%q: %s", value, want))
}

// UnknownOptionError returns the error of a DSN option a driver does not
// know, listing the ones it does, sorted:
//
//	<driver>: option "<name>": unknown; known options: a, b, c
func UnknownOptionError(driverName, option string, known []string) error {
	known = slices.Clone(known)
	slices.Sort(known)
	return OptionError(driverName, option, "unknown; known options: "+strings.Join(known, ", "))
}
