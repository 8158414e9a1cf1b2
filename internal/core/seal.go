package core

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// Encryption at rest. With Config.EncryptionKeys set, every record is
// sealed with AES-256-GCM before it reaches the driver:
//
//	byte    sealedV1
//	4 bytes key ID (the first 4 bytes of SHA-256 of the key)
//	12 bytes random nonce
//	rest    ciphertext and 16-byte tag
//
// The associated data is the record's store key, so a record copied under
// another session's key fails to open. The first key seals; every key
// opens, so keys rotate without logging anyone out: deploy with the new
// key first and the old one second, and drop the old one after a session
// lifetime. A record that fails to open (wrong or retired key, tampering,
// a plaintext record while encryption is on) is treated as absent.
const sealedV1 = 0xE1

const keyIDLen = 4

var errOpen = errors.New("sealed record does not open with any configured key")

type sealKey struct {
	id   [keyIDLen]byte
	aead cipher.AEAD
}

type Keyring struct{ keys []sealKey }

func NewKeyring(keys [][]byte) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	r := &Keyring{}
	for i, k := range keys {
		if len(k) != 32 {
			return nil, fmt.Errorf("sessions: encryption key %d is %d bytes; AES-256 needs 32 (openssl rand -base64 32)", i+1, len(k))
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("sessions: encryption key %d: %w", i+1, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("sessions: encryption key %d: %w", i+1, err)
		}
		sum := sha256.Sum256(k)
		sk := sealKey{aead: aead}
		copy(sk.id[:], sum[:keyIDLen])
		r.keys = append(r.keys, sk)
	}
	return r, nil
}

// seal encrypts plain for storage under key with the first key.
func (r *Keyring) Seal(key string, plain []byte) []byte {
	k := r.keys[0]
	out := make([]byte, 1+keyIDLen+12, 1+keyIDLen+12+len(plain)+k.aead.Overhead())
	out[0] = sealedV1
	copy(out[1:], k.id[:])
	nonce := out[1+keyIDLen:]
	_, _ = rand.Read(nonce)
	return k.aead.Seal(out, nonce, plain, []byte(key))
}

// open decrypts a sealed record stored under key.
func (r *Keyring) Open(key string, rec []byte) ([]byte, error) {
	if len(rec) < 1+keyIDLen+12+16 || rec[0] != sealedV1 {
		return nil, errOpen
	}
	id, nonce, ct := rec[1:1+keyIDLen], rec[1+keyIDLen:1+keyIDLen+12], rec[1+keyIDLen+12:]
	for _, k := range r.keys {
		if string(k.id[:]) != string(id) {
			continue
		}
		if plain, err := k.aead.Open(nil, nonce, ct, []byte(key)); err == nil {
			return plain, nil
		}
	}
	return nil, errOpen
}

// ParseEncryptionKeys parses SESSION_ENCRYPTION_KEYS: comma-separated
// base64 (standard or URL alphabet, padded or not) keys of 32 bytes each.
// The first key encrypts; all decrypt.
func ParseEncryptionKeys(s string) ([][]byte, error) {
	var keys [][]byte
	for i, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		var k []byte
		var err error
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if k, err = enc.DecodeString(part); err == nil {
				break
			}
		}
		if err != nil {
			return nil, fmt.Errorf("key %d is not base64", i+1)
		}
		if len(k) != 32 {
			return nil, fmt.Errorf("key %d decodes to %d bytes; want 32 (openssl rand -base64 32)", i+1, len(k))
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("no keys")
	}
	return keys, nil
}
