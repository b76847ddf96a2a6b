package pollerstest

import (
	"bytes"
	"sync"
)

// Buffer is a bytes.Buffer safe for concurrent writes, for capturing the
// logs of engines and processes under test.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
