package testserver

import "sync"

var writeMu sync.Mutex
