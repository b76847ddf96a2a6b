package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Alert is one alert as Alertmanager's v2 API takes it (POST /api/v2/alerts).
// Alertmanager identifies an alert by its label set; an alert whose endsAt
// is not after Alertmanager's clock is resolved, and one whose endsAt is
// before its startsAt is rejected.
type Alert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// postBatch bounds the alerts of one request.
const postBatch = 500

// alertmanager posts alerts to one Alertmanager.
type alertmanager struct {
	url    string // …/api/v2/alerts
	client *http.Client
}

func newAlertmanager(base string, client *http.Client) *alertmanager {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	return &alertmanager{url: strings.TrimSuffix(base, "/") + "/api/v2/alerts", client: client}
}

// post sends alerts, postBatch at a time. An unreachable Alertmanager or
// an answer other than 2xx is an error: the caller keeps the alerts and
// tries again.
func (a *alertmanager) post(ctx context.Context, alerts []Alert) error {
	for len(alerts) > 0 {
		n := min(len(alerts), postBatch)
		if err := a.postOnce(ctx, alerts[:n]); err != nil {
			return err
		}
		alerts = alerts[n:]
	}
	return nil
}

func (a *alertmanager) postOnce(ctx context.Context, alerts []Alert) error {
	body, err := json.Marshal(alerts)
	if err != nil {
		return fmt.Errorf("alertmanager: encode alerts: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("alertmanager: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		// net/http's error names the URL with its password hidden.
		return fmt.Errorf("alertmanager: post %d alerts: %w", len(alerts), err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("alertmanager: post %d alerts: %s: %s", len(alerts), resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}
