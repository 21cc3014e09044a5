package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
)

// compactEtcd compacts etcd to its current revision, through its JSON
// gateway, as the kube-apiserver does: it first records the revision under
// compact_rev_key, which the kube-apiserver watches to drop the snapshots
// of its watch caches older than the compaction (without it, its heap grew
// by hundreds of MiB a phase). It returns once the compaction is done.
// The benchmark compacts between rounds, with nothing running, instead of
// letting the kube-apiserver compact every five minutes: a compaction of
// the tens of thousands of revisions a round leaves slows the writes of
// whichever phase it falls in.
func compactEtcd(ctx context.Context, etcd *url.URL) error {
	var status struct {
		Header struct {
			Revision json.Number `json:"revision"`
		} `json:"header"`
	}
	// A range of one key answers with the store's current revision.
	if err := etcdCall(ctx, etcd, "/v3/kv/range", map[string]any{"key": "AA==", "limit": 1}, &status); err != nil {
		return err
	}
	revision := status.Header.Revision.String()
	err := etcdCall(ctx, etcd, "/v3/kv/put", map[string]any{
		"key":   base64.StdEncoding.EncodeToString([]byte("compact_rev_key")),
		"value": base64.StdEncoding.EncodeToString([]byte(revision)),
	}, nil)
	if err != nil {
		return err
	}
	return etcdCall(ctx, etcd, "/v3/kv/compaction", map[string]any{"revision": revision, "physical": true}, nil)
}

// etcdCall posts request to one of etcd's gateway endpoints and decodes the
// answer into response, when not nil.
func etcdCall(ctx context.Context, etcd *url.URL, path string, request, response any) error {
	body, err := json.Marshal(request)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, etcd.JoinPath(path).String(), bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("etcd %s: %w", path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		var e bytes.Buffer
		_, _ = e.ReadFrom(resp.Body)
		return fmt.Errorf("etcd %s: %s: %s", path, resp.Status, e.String())
	}
	if response == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(response)
}
