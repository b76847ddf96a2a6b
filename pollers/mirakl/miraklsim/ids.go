package miraklsim

import "encoding/hex"

// newID returns a UUID-shaped id (version 4 layout). Ids come from a counter
// run through a mixing function rather than from crypto/rand: they look like
// Mirakl's, sort in no particular order (so the id tie-break of the M11 order
// is exercised), and a test that creates the same data in the same order gets
// the same ids every run.
func (s *Server) newID() string {
	n := s.idSeq.Add(1)
	hi := splitmix64(n)
	lo := splitmix64(n ^ 0x6a09e667f3bcc909)
	var b [16]byte
	for i := range 8 {
		b[i] = byte(hi >> (56 - 8*i))
		b[8+i] = byte(lo >> (56 - 8*i))
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], b[10:16])
	return string(out[:])
}

func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}
