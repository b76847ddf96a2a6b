package events

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// StreamConfig describes the stream threadsync publishes to.
type StreamConfig struct {
	Name          string
	SubjectPrefix string
	// Duplicates is the window in which JetStream drops a message whose
	// Nats-Msg-Id it has already stored; it must outlast any restart.
	Duplicates time.Duration
	// Replicas is the number of stream replicas on a clustered server.
	Replicas int
}

// EnsureStream creates the stream, or updates its subjects and duplicate
// window when it exists. It keeps the stream's other settings as operators
// left them and returns warnings about settings that put events at risk.
func EnsureStream(ctx context.Context, js jetstream.JetStream, c StreamConfig) (warnings []string, err error) {
	if err := validSubjectPrefix(c.SubjectPrefix); err != nil {
		return nil, err
	}
	want := c.SubjectPrefix + ".>"
	if c.Replicas < 1 {
		c.Replicas = 1
	}
	s, err := js.Stream(ctx, c.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = js.CreateStream(ctx, jetstream.StreamConfig{
			Name:        c.Name,
			Description: "threadsync inbox events",
			Subjects:    []string{want},
			Storage:     jetstream.FileStorage,
			Duplicates:  c.Duplicates,
			Replicas:    c.Replicas,
			Discard:     jetstream.DiscardOld,
		})
		if err != nil {
			return nil, fmt.Errorf("create stream %s: %w", c.Name, err)
		}
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up stream %s: %w", c.Name, err)
	}
	cfg := s.CachedInfo().Config
	update := false
	if !contains(cfg.Subjects, want) {
		cfg.Subjects = append(cfg.Subjects, want)
		update = true
	}
	if cfg.Duplicates < c.Duplicates {
		if cfg.MaxAge > 0 && c.Duplicates > cfg.MaxAge {
			warnings = append(warnings, fmt.Sprintf("stream %s: max age %s is shorter than the duplicate window %s", c.Name, cfg.MaxAge, c.Duplicates))
		} else {
			cfg.Duplicates = c.Duplicates
			update = true
		}
	}
	if update {
		if _, err := js.UpdateStream(ctx, cfg); err != nil {
			return nil, fmt.Errorf("update stream %s: %w", c.Name, err)
		}
	}
	if cfg.Storage != jetstream.FileStorage {
		warnings = append(warnings, fmt.Sprintf("stream %s uses memory storage: acknowledged events are lost when the server restarts", c.Name))
	}
	if cfg.Discard == jetstream.DiscardNew && (cfg.MaxMsgs > 0 || cfg.MaxBytes > 0) {
		warnings = append(warnings, fmt.Sprintf("stream %s discards new messages when full: publishing will fail and threadsync will stall", c.Name))
	}
	if cfg.MaxMsgsPerSubject > 0 {
		// Subjects are per account and event type, so this keeps only the
		// last few events of each: older ones vanish before consumers read them.
		warnings = append(warnings, fmt.Sprintf("stream %s keeps at most %d messages per subject: older events of an account are deleted", c.Name, cfg.MaxMsgsPerSubject))
	}
	switch cfg.Retention {
	case jetstream.WorkQueuePolicy:
		warnings = append(warnings, fmt.Sprintf("stream %s has work-queue retention: an event is deleted once one consumer acknowledges it, so other consumers never see it", c.Name))
	case jetstream.InterestPolicy:
		warnings = append(warnings, fmt.Sprintf("stream %s has interest retention: events published while no consumer exists are deleted at once", c.Name))
	}
	if ci := s.CachedInfo().Cluster; ci != nil && ci.Name != "" && cfg.Replicas < 3 {
		warnings = append(warnings, fmt.Sprintf("stream %s has %d replica(s) in cluster %s: losing a server can lose acknowledged events; use 3", c.Name, cfg.Replicas, ci.Name))
	}
	return warnings, nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
