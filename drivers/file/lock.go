package file

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// numStripes is the number of lock stripes, and of lock files.
const numStripes = 256

// stripe is one lock stripe: a mutex excluding the goroutines of this
// process (flock on one shared descriptor would not) and an exclusive flock
// on a lock file excluding other processes and other Drivers. The lock file
// is opened on first use and kept open until Close.
type stripe struct {
	mu     sync.Mutex
	f      *os.File
	closed bool
}

// stripeIndex hashes key (FNV-1a, folded to a byte) to its stripe. The
// hash must be the same in every process sharing the folder.
func stripeIndex(key string) int {
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= 16777619
	}
	return int((h ^ h>>8 ^ h>>16 ^ h>>24) & (numStripes - 1))
}

func lockName(i int) string {
	return fmt.Sprintf("%s%02x", lockPrefix, i)
}

// open opens the lock file of stripe i in dir if it is not open yet,
// creating it 0600; a symbolic link in its place is an error, not
// followed. The caller holds s.mu, or has the stripe to itself.
func (s *stripe) open(dir string, i int) error {
	if s.f != nil {
		return nil
	}
	f, err := openNoFollow(filepath.Join(dir, lockName(i)), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("lock file: %w", err)
	}
	s.f = f
	return nil
}

// lock takes the stripe of key, in this process and across processes, and
// returns it; release it with unlock. After Close it returns ErrClosed.
func (d *Driver) lock(key string) (*stripe, error) {
	i := stripeIndex(key)
	s := &d.stripes[i]
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	if err := s.open(d.dir, i); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	if err := lockFile(s.f); err != nil {
		s.mu.Unlock()
		return nil, fmt.Errorf("lock: %w", err)
	}
	return s, nil
}

// unlock releases a stripe taken by lock. If the file lock cannot be
// released, closing the descriptor releases it; the file is reopened on the
// next use.
func (s *stripe) unlock() {
	if err := unlockFile(s.f); err != nil {
		s.f.Close()
		s.f = nil
	}
	s.mu.Unlock()
}

// close closes the stripe's lock file, waiting for a holder to release it,
// and makes later lock calls fail with ErrClosed.
func (s *stripe) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}
