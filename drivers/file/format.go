package file

import (
	"encoding/binary"
	"hash/crc32"
	"time"
)

// A session file holds two slots of equal size, slot 0 at offset 0 and
// slot 1 at half the file's size. Each slot is a header followed by a
// record:
//
//	offset 0   4 bytes   magic "GKS\x02" (the last byte is the format version)
//	offset 4   4 bytes   CRC-32C (Castagnoli) of bytes 8 to the record's end
//	offset 8   8 bytes   generation, big-endian: the newer slot has the larger one
//	offset 16  8 bytes   version, big-endian, non-zero
//	offset 24  8 bytes   expiry, big-endian Unix nanoseconds
//	offset 32  4 bytes   record length, big-endian
//	offset 36  4 bytes   zero
//	offset 40  …         record, then unused bytes up to the slot's end
//
// A save writes the slot that does not hold the newest record, with the
// next generation, and never touches the other: a writer that dies
// mid-write leaves a slot that fails its checksum beside the intact
// previous record, and a reader that races a writer finds at least one
// whole slot. The file keeps its size and its blocks from save to save,
// so a save allocates and frees nothing; a record that outgrows its slot
// is written into a new, larger file renamed into place.
//
// Format 1 files (one record after a 16-byte header: magic "GKS\x01",
// version, CRC-32C; the expiry is the file's modification time), written
// by earlier releases, are still read, and the first save rewrites them.
const (
	slotHeaderLen = 40
	// slotAlign is the granularity of slot sizes.
	slotAlign = 512
	// v1HeaderLen is the header length of format 1.
	v1HeaderLen = 16
	// minFileLen is the shortest file that can hold a record.
	minFileLen = v1HeaderLen
)

var (
	magic    = [4]byte{'G', 'K', 'S', 2}
	magicV1  = [4]byte{'G', 'K', 'S', 1}
	crcTable = crc32.MakeTable(crc32.Castagnoli)
)

// slotSize is the size of each of the two slots of a new file for a
// record of n bytes: room for the header, the record and a quarter more
// (so a session that grows a little keeps its file), rounded up to
// slotAlign.
func slotSize(n int) int {
	need := slotHeaderLen + n + n/4
	return (need + slotAlign - 1) / slotAlign * slotAlign
}

// slotState is what a file's contents say.
type slotState struct {
	record  []byte // aliases the buffer read; nil if no slot is valid
	version uint64
	expires int64 // Unix nanoseconds
	gen     uint64
	// next is the offset of the slot the next save writes and half the
	// size of each slot; half is 0 if the file cannot be written in
	// place (format 1, damaged, or no valid slot), and the next save
	// writes a new file.
	next, half int
}

// encodeSlot writes the slot holding record into dst, which must have
// room for slotHeaderLen+len(record) bytes, and returns that prefix.
func encodeSlot(dst []byte, gen, version uint64, expires int64, record []byte) []byte {
	n := slotHeaderLen + len(record)
	b := dst[:n]
	copy(b[:4], magic[:])
	binary.BigEndian.PutUint64(b[8:16], gen)
	binary.BigEndian.PutUint64(b[16:24], version)
	binary.BigEndian.PutUint64(b[24:32], uint64(expires))
	binary.BigEndian.PutUint32(b[32:36], uint32(len(record)))
	binary.BigEndian.PutUint32(b[36:40], 0)
	copy(b[slotHeaderLen:], record)
	binary.BigEndian.PutUint32(b[4:8], crc32.Checksum(b[8:], crcTable))
	return b
}

// decodeSlot returns the record of the slot in b, or ok false if b holds
// no valid slot: wrong magic, a length past b's end, version 0, or a
// checksum mismatch.
func decodeSlot(b []byte) (s slotState, ok bool) {
	if len(b) < slotHeaderLen || [4]byte(b[:4]) != magic {
		return s, false
	}
	n := int(binary.BigEndian.Uint32(b[32:36]))
	if n > len(b)-slotHeaderLen {
		return s, false
	}
	end := slotHeaderLen + n
	if crc32.Checksum(b[8:end], crcTable) != binary.BigEndian.Uint32(b[4:8]) {
		return s, false
	}
	s.gen = binary.BigEndian.Uint64(b[8:16])
	s.version = binary.BigEndian.Uint64(b[16:24])
	s.expires = int64(binary.BigEndian.Uint64(b[24:32]))
	s.record = b[slotHeaderLen:end:end]
	return s, s.version != 0
}

// decodeFile reads the contents of a session file whose modification time
// is mtime: the newest valid slot of a format 2 file, or the record of a
// format 1 file (expiring at mtime). A file with no valid record gives a
// zero slotState (record nil).
func decodeFile(buf []byte, mtime time.Time) slotState {
	if len(buf) >= v1HeaderLen && [4]byte(buf[:4]) == magicV1 {
		rec, ver, ok := decodeV1(buf)
		if !ok {
			return slotState{}
		}
		return slotState{record: rec, version: ver, expires: mtime.UnixNano()}
	}
	if len(buf) < 2*slotHeaderLen || len(buf)%2 != 0 {
		return slotState{}
	}
	half := len(buf) / 2
	s0, ok0 := decodeSlot(buf[:half])
	s1, ok1 := decodeSlot(buf[half:])
	switch {
	case ok0 && (!ok1 || s0.gen > s1.gen):
		s0.next, s0.half = half, half
		return s0
	case ok1:
		s1.next, s1.half = 0, half
		return s1
	}
	return slotState{}
}

// decodeV1 splits the contents of a format 1 file into record and version;
// ok is false if it is damaged. The record aliases buf.
func decodeV1(buf []byte) (record []byte, version uint64, ok bool) {
	if len(buf) < v1HeaderLen || [4]byte(buf[:4]) != magicV1 {
		return nil, 0, false
	}
	version = binary.BigEndian.Uint64(buf[4:12])
	record = buf[v1HeaderLen:]
	sum := crc32.Update(crc32.Checksum(buf[4:12], crcTable), crcTable, record)
	if version == 0 || sum != binary.BigEndian.Uint32(buf[12:16]) {
		return nil, 0, false
	}
	return record, version, true
}
