package sim

import "encoding/hex"

// Mix is splitmix64's finaliser: a bijection on uint64 that scatters the
// bits of a counter, so ids built from a sequence look random, sort in no
// particular order, and are still unique and the same on every run.
func Mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// UUID returns the n-th UUID-shaped id (version 4 layout) of a sequence:
// distinct n give distinct ids, and the same n the same id.
func UUID(n uint64) string {
	hi, lo := Mix(n), Mix(n^0x6a09e667f3bcc909)
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
