package file

import (
	"encoding/binary"
	"hash/crc32"
)

// A session file is a header followed by the record:
//
//	offset 0   4 bytes   magic "GKS\x01" (the last byte is the format version)
//	offset 4   8 bytes   version, big-endian, non-zero
//	offset 12  4 bytes   CRC-32C (Castagnoli) of bytes 4–11 and the record
//	offset 16  …         record
const headerLen = 16

var (
	magic    = [4]byte{'G', 'K', 'S', 1}
	crcTable = crc32.MakeTable(crc32.Castagnoli)
)

// encodeHeader returns the header of a file holding version and record.
func encodeHeader(version uint64, record []byte) [headerLen]byte {
	var h [headerLen]byte
	copy(h[:4], magic[:])
	binary.BigEndian.PutUint64(h[4:12], version)
	sum := crc32.Update(crc32.Checksum(h[4:12], crcTable), crcTable, record)
	binary.BigEndian.PutUint32(h[12:16], sum)
	return h
}

// decode splits the contents of a session file into record and version.
// ok is false if the file is damaged: too short, wrong magic, version 0 or
// a checksum mismatch. The record aliases buf; it is never nil
// because buf is not.
func decode(buf []byte) (record []byte, version uint64, ok bool) {
	if len(buf) < headerLen || [4]byte(buf[:4]) != magic {
		return nil, 0, false
	}
	version = binary.BigEndian.Uint64(buf[4:12])
	record = buf[headerLen:]
	sum := crc32.Update(crc32.Checksum(buf[4:12], crcTable), crcTable, record)
	if version == 0 || sum != binary.BigEndian.Uint32(buf[12:16]) {
		return nil, 0, false
	}
	return record, version, true
}
