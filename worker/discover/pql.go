package discover

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// DefaultPuppetDB is the PuppetDB a pql node set asks when neither the node set's url property
// nor the worker (worker.WithPuppetDB, $FLEETBOOK_PUPPETDB_URL) names one. Choria used
// plugin.choria.puppetdb_host and _port (default puppet:8081, HTTPS with the node's
// certificate); here the query API is plain HTTP(S) with the system's CAs.
const DefaultPuppetDB = "http://puppetdb:8080"

// maxPQLResponse caps a PuppetDB answer.
const maxPQLResponse = 64 << 20

// CheckPuppetDBURL refuses a PuppetDB base URL that is not an absolute http or https URL.
func CheckPuppetDBURL(base string) error {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("PuppetDB URL %q must be an absolute http or https URL", base)
	}
	return nil
}

// pqlNodes sends the query property to PuppetDB's query API and takes the certname of every
// record, dropping deactivated nodes (a non-null deactivated field) as Choria did. A query whose
// records have no certname at all is an error, since it cannot name nodes.
func (d *discoverer) pqlNodes(ctx context.Context, props map[string]any) ([]string, error) {
	query, err := stringProp(props, "query", true)
	if err != nil {
		return nil, err
	}
	base, err := stringProp(props, "url", false)
	if err != nil {
		return nil, err
	}
	if base == "" {
		base = d.puppetDB
	}
	if err := CheckPuppetDBURL(base); err != nil {
		return nil, err
	}
	endpoint := strings.TrimSuffix(base, "/") + "/pdb/query/v4?" + url.Values{"query": {query}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return nil, fmt.Errorf("PuppetDB request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := d.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("PuppetDB at %s: %w", base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPQLResponse+1))
	if err != nil {
		return nil, fmt.Errorf("PuppetDB at %s: reading the answer: %w", base, err)
	}
	if len(body) > maxPQLResponse {
		return nil, fmt.Errorf("PuppetDB at %s answered more than %d bytes", base, maxPQLResponse)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("PuppetDB at %s refused the query with %s: %s", base, resp.Status, strings.TrimSpace(string(body[:min(len(body), 500)])))
	}
	var records []any
	if err := json.Unmarshal(body, &records); err != nil {
		return nil, fmt.Errorf("PuppetDB at %s did not answer a JSON list of records: %w", base, err)
	}
	var hosts []string
	named := 0
	for _, r := range records {
		rec, ok := r.(map[string]any)
		if !ok {
			continue
		}
		name, ok := rec["certname"].(string)
		if !ok || name == "" {
			continue
		}
		named++
		if rec["deactivated"] != nil {
			continue
		}
		hosts = append(hosts, name)
	}
	if len(records) > 0 && named == 0 {
		return nil, fmt.Errorf("the query's %d records have no certname; select it, e.g. nodes[certname] { ... }", len(records))
	}
	return hosts, checkIdentities(hosts, "PuppetDB certnames")
}
